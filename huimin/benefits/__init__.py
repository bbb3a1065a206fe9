"""Policy finds people (政策找人 / 免申即享): notices, batch matching, pushes, confirmation.

- `models`: the `benefit_notices` table (one notice per resident, policy and rule version);
- `notices`: the lifecycle matched -> notified -> confirmed | declined | expired -> granted;
- `matching`: rules' SQL matches -> notices, exactly once, in constant memory;
- `push`: channel choice (subscribe message, customer-service message, grid worklist),
  opt-out, rate limits and quiet hours, never twice;
- `check`: one resident's answer for every policy (calculator, /me/benefits, chat);
- `questions`: which missing fact to ask next in chat, and reading the answer;
- `triggers`: noticing a changed rule; `sources`: live rules and titles; `settings`.
"""
