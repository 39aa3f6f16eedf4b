"""The dashboard's shared UI (sidebar, gallery, uploads, jobs, results); the pages in pages/ compose it."""
