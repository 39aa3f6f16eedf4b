"""Forget set: pick the people or photos to forget in the gallery, or upload photos to find them."""
import streamlit as st

from dashboard import context, gallery, sidebar, upload

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

other = "photos" if kind == "people" else "person"
switch = (f" To forget {'single photos' if kind == 'people' else 'whole people'} instead, choose the *{other}* "
          "scenario in the sidebar.") if other in cur.dataset.scenarios else ""
if kind == "people":
    st.caption("Tick a person to forget all of their training photos (the right to be forgotten); the model should "
               "keep working for everyone else." + switch)
else:
    st.caption("Tick single training photos to forget; their people stay enrolled." + switch)

with st.container(border=True):
    head, clear, default = st.columns([4, 1, 1], vertical_alignment="center")
    head.markdown("#### Selected")
    clear.button("Clear", icon=":material/clear_all:", on_click=gallery.set_selection, args=(cur, kind, []),
                 width="stretch")
    default.button("Default", icon=":material/restart_alt:", on_click=gallery.set_spec,
                   args=(cur, scenario.default_forget), width="stretch",
                   help=f"The scenario's documented default: {scenario.default_forget}")
    gallery.summary(cur, kind)

gallery_tab, upload_tab = st.tabs([":material/photo_library: Gallery", ":material/upload: Upload photos"])
with gallery_tab:
    (gallery.people_gallery if kind == "people" else gallery.photos_gallery)(cur)
with upload_tab:
    upload.uploads(cur, kind)
if cur.dataset.credit:
    st.caption(cur.dataset.credit)
