"""Where the tests find the repository and the shared fixtures (``../shared`` beside the checkout)."""
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
PARITY_DIR = str(SHARED / "fixtures" / "openseg_parity")
MODEL_DIR = str(SHARED / "fixtures" / "openseg_model")
