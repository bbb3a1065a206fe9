"""Employment code (就业码): a colour status credential, signed so anyone can verify it
offline with the published JWKS. Domain core only; the edges add storage and HTTP."""

from .codes import (
    MAX_CODE_LENGTH,
    TYP,
    CodeClaims,
    EmploymentCodes,
    IssuedCode,
    Reason,
    RevocationCheck,
    Verification,
    check_subject_id,
    load_keyring,
    new_subject_id,
)
from .keys import KeyConfigError, KeyEntry, KeyRing, NoSigningKeyError, generate_key
from .qr import MAX_QR_VERSION, QRSymbol, QRTooLargeError, encode_qr, qr_png, qr_svg
from .status import (
    DEFINITIONS,
    Colour,
    InsufficientFactsError,
    Service,
    Status,
    StatusDefinition,
    definition,
    derive_status,
)

__all__ = [
    "DEFINITIONS",
    "MAX_CODE_LENGTH",
    "MAX_QR_VERSION",
    "TYP",
    "CodeClaims",
    "Colour",
    "EmploymentCodes",
    "InsufficientFactsError",
    "IssuedCode",
    "KeyConfigError",
    "KeyEntry",
    "KeyRing",
    "NoSigningKeyError",
    "QRSymbol",
    "QRTooLargeError",
    "Reason",
    "RevocationCheck",
    "Service",
    "Status",
    "StatusDefinition",
    "Verification",
    "check_subject_id",
    "definition",
    "derive_status",
    "encode_qr",
    "generate_key",
    "load_keyring",
    "new_subject_id",
    "qr_png",
    "qr_svg",
]
