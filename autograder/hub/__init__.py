"""`make hub`: a JupyterHub for a class (accounts, exchange, hub settings). See book/jupyterhub.md."""
