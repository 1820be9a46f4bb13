"""The Streamlit dashboard: a dispatcher's board and a manager's what-if room.

``app.py`` is the entry script (``streamlit run dashboard/app.py``) with ``st.navigation`` over
``app_pages/``, which only lay out. The logic is free of Streamlit: ``data`` (demos, areas,
selectors), ``planning`` (plans with pins, progress), ``jobs`` (job states, timeline, pins,
exports), ``live`` (urgent calls, drop-outs), ``scenarios`` (coverage, suggestions, comparison),
``simulation`` and ``uploads``; ``formatting`` is the one place text is made; ``maps`` /
``figures`` are pure chart builders; ``loaders`` the cached loaders, ``state`` the session keys
and ``widgets`` the shared Streamlit components. Nothing here starts work on import.
"""
