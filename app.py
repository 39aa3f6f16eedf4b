"""The dashboard: `streamlit run app.py` (or `make run`). Navigation over the pages in pages/, the sidebar they
share, and on a fresh machine the background training of the default baselines."""
import streamlit as st

from dashboard import sidebar

# An emoji favicon is drawn as an inline SVG; a :material/...: one would be fetched from a font CDN.
st.set_page_config(page_title="Face unlearning", page_icon="🙈", layout="wide")
PAGES = {page.url_path: page for page in (
    st.Page("pages/forget_set.py", title="Forget set", icon=":material/person_remove:", default=True),
    st.Page("pages/unlearn.py", title="Unlearn", icon=":material/auto_fix_high:"),
    st.Page("pages/compare.py", title="Compare", icon=":material/compare:"),
    st.Page("pages/runs.py", title="Runs", icon=":material/history:"),
    st.Page("pages/benchmark.py", title="Benchmark", icon=":material/leaderboard:"),
)}
page = st.navigation(list(PAGES.values()))
wanted = st.query_params.get(sidebar.GOTO_PAGE)
if wanted is not None:
    del st.query_params[sidebar.GOTO_PAGE]
    if wanted in PAGES:
        st.switch_page(PAGES[wanted])
sidebar.run_page(page)
