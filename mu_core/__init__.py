"""mu_core: the engine behind the face-unlearning dashboard (no Streamlit in here)."""
