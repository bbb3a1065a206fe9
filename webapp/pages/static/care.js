// Care mode (适老化) before the first paint: the last known setting on this phone; the
// page then asks the server (citizens: the same setting the chat uses) and corrects it.
(function () {
  var key = location.pathname.indexOf("/grid/") === 0 ? "huimin-grid-care" : "huimin-my-care";
  if (localStorage.getItem(key) === "1") document.documentElement.classList.add("care");
})();
