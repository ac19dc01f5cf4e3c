"""Launch the qa web UI: `python app.py` (the same as `qa serve`; settings from qa.toml / QA_*)."""

from qa.api import api_app_kwargs
from qa.config import load_settings
from qa.engine import Engine
from qa.ui import build_ui, launch, warm_up

if __name__ == "__main__":
    settings = load_settings()
    engine = Engine(settings)
    demo = build_ui(settings, engine)
    warm_up(engine)
    launch(demo, settings, api=api_app_kwargs(engine, settings))
