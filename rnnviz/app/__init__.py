"""Streamlit glue: the only part of rnnviz that imports streamlit."""
