"""The Gradio chat UI (built on the planner in agents/).

Gradio copies served files into its temp folder, read when gradio is imported: point it inside
the workspace first, so nothing is written outside it.
"""

import os

from tools.core.settings import get_settings

os.environ.setdefault("GRADIO_TEMP_DIR", str(get_settings().workspace / "cache" / "gradio"))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
