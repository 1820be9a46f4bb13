"""The Streamlit dashboard: a dispatcher's board and a manager's what-if room.

``app.py`` is the entry script (``streamlit run dashboard/app.py``); ``app_pages/`` only lay out;
``core.py`` holds the logic, ``maps.py`` / ``figures.py`` the pure chart builders and
``loaders.py`` the cached loaders. Nothing here starts work on import.
"""
