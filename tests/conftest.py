"""Test-wide settings: quiet TensorFlow, and a per-session data cache by default."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
