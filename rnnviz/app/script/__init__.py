"""The installed package's Streamlit entry (``rnnviz_app.py``), in a folder of its own:
``streamlit run`` puts the entry's folder on ``sys.path`` and uvicorn imports the entry by its
bare name, so nothing else may sit beside it to shadow another module."""
