"""Forget set: pick the people or photos to forget in the gallery, or upload photos to find them."""
import streamlit as st

from dashboard import context, gallery, sidebar, upload
from mu_core.selection import chosen

cur = sidebar.active()
st.title(":material/person_remove: Forget set")
scenario = cur.dataset.scenarios[cur.choice.scenario]
kind = gallery.selection_kind(cur)
if kind is None:
    st.caption(scenario.description)
    spec = st.text_input("Forget selection", value=cur.spec or "", help="For example " + scenario.default_forget)
    if spec != (cur.spec or ""):
        context.set_forget_spec(cur.choice, spec.strip() or None)
        st.rerun()
    if cur.problem:
        st.warning(cur.problem, icon=":material/warning:")
    st.stop()

if kind == "people":
    st.caption("Tick a person to forget all of their training photos (the right to be forgotten); the model should "
               "keep working for everyone else. To forget single photos instead, choose the *photos* scenario in "
               "the sidebar.")
else:
    st.caption("Tick single training photos to forget; their people stay enrolled. To forget whole people, choose "
               "the *person* scenario in the sidebar.")

with st.container(border=True):
    head, clear, default = st.columns([4, 1, 1], vertical_alignment="center")
    head.markdown("#### Selected")
    clear.button("Clear", icon=":material/clear_all:", on_click=gallery.set_selection, args=(cur, kind, []),
                 width="stretch")
    default.button("Default", icon=":material/restart_alt:", on_click=gallery.set_selection,
                   args=(cur, kind, chosen(cur.dataset, scenario.default_forget)[1]), width="stretch",
                   help=f"The scenario's documented default: {scenario.default_forget}")
    gallery.summary(cur, kind)

gallery_tab, upload_tab = st.tabs([":material/photo_library: Gallery", ":material/upload: Upload photos"])
with gallery_tab:
    (gallery.people_gallery if kind == "people" else gallery.photos_gallery)(cur)
with upload_tab:
    upload.uploads(cur, kind)
if cur.dataset.credit:
    st.caption(cur.dataset.credit)
