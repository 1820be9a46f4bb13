"""The Streamlit dashboard: a dispatcher's board and a manager's what-if room.

``app.py`` is the entry script (``streamlit run dashboard/app.py``) with ``st.navigation`` over
``app_pages/``, which only lay out. The logic is free of Streamlit: ``data`` (demos, areas,
selectors), ``planning`` (day plans, progress), ``console`` (the board's live plan: the day plan
advanced through stored events), ``jobs`` (job states, timeline, pins, exports), ``live``
(urgent calls, drop-outs as the board shows them), ``scenarios`` (coverage, suggestions,
comparison), ``simulation`` and ``uploads``; ``formatting`` is where text is made, from the
message ``catalogue`` (Chinese first, English) through ``i18n``; ``maps`` / ``figures`` are pure
chart builders; ``loaders`` the cached loaders, ``state`` the session keys and ``widgets`` the
shared Streamlit components. Nothing here starts work on import.
"""
