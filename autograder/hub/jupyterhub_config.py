"""JupyterHub for a class: `make hub` runs ``jupyterhub -f autograder/hub/jupyterhub_config.py``.

It reads the class that ``setup_class.py`` wrote into ``$SEQMODELS_HUB_ROOT`` (default
``/srv/seqmodels``). Each user logs in with their local account's password (PAM) and gets
JupyterLab run as that Unix user (LocalProcessSpawner; the hub runs as root), with the course's
``.venv`` (``seqlab``, nbgrader's Assignment List and Validate), the course id and the exchange
of ``<root>/jupyter/``. The proxy is configurable-http-proxy from ``_vendor/hub`` (pinned in
``autograder/hub/package-lock.json``). Address: ``$SEQMODELS_HUB_IP``:``$SEQMODELS_HUB_PORT``
(127.0.0.1:8000); put TLS in front of it (or set ``c.JupyterHub.ssl_cert``) for a real class.
"""
import json
import os
import socket
from pathlib import Path

c = get_config()  # noqa: F821 (provided by traitlets when JupyterHub loads this file)

REPO = Path(__file__).resolve().parents[2]
ROOT = Path(os.environ.get("SEQMODELS_HUB_ROOT", "/srv/seqmodels"))
CLASS = json.loads((ROOT / "class.json").read_text())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


ip = os.environ.get("SEQMODELS_HUB_IP", "127.0.0.1")
c.JupyterHub.bind_url = f"http://{ip}:{os.environ.get('SEQMODELS_HUB_PORT', '8000')}"
# The hub's own API and the proxy's on free ports: two hubs (a class and a test) may share a machine.
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = free_port()
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{free_port()}"
c.ConfigurableHTTPProxy.command = [str(REPO / "_vendor" / "hub" / "node_modules" / ".bin" / "configurable-http-proxy")]
c.JupyterHub.db_url = f"sqlite:///{ROOT / 'hub' / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(ROOT / "hub" / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(ROOT / "hub" / "jupyterhub.pid")

# Local accounts, made by `make hub`; the instructor is the hub's admin.
c.JupyterHub.authenticator_class = "pam"
c.PAMAuthenticator.open_sessions = False  # no login session (utmp, systemd) for a notebook server
c.Authenticator.allowed_users = {CLASS["instructor"], *CLASS["students"]}
c.Authenticator.admin_users = {CLASS["instructor"]}

# Each user's JupyterLab, as that user, in the course's environment.
bin_dir = REPO / ".venv" / "bin"
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [str(bin_dir / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.environment = {
    # Students' servers also read jupyter-students/ (no Formgrader, no Create Assignment).
    "JUPYTER_CONFIG_PATH": lambda spawner: os.pathsep.join(
        [str(ROOT / "jupyter")] if spawner.user.name == CLASS["instructor"]
        else [str(ROOT / "jupyter-students"), str(ROOT / "jupyter")]),
    "PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin",
    "PYTHONPATH": str(REPO),  # nbgrader loads the exchange's classes from autograder/hub/
    "OMP_NUM_THREADS": "1",
}
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
