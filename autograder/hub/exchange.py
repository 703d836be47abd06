"""nbgrader's exchange with one inbound folder per student, instead of a world-writable one.

nbgrader 0.9's default exchange makes its root world-writable (``release_assignment`` resets
it to 0777) and lets every student create submissions in one shared ``inbound/`` (0733, plus
each submission 0777). Here the folders are made once by `make hub` (``setup_class.py``):

- ``<root>`` and ``<root>/<course>``, ``outbound/``: owned by root or the instructor, 0755;
  everyone reads the released exercises, nobody but the instructor writes there;
- ``inbound/``: the instructor's, mode 0711 (students may pass through it, never list it);
- ``inbound/<student>/``: owned by the student, group ``<staff group>``, mode 2750: only that
  student writes into it; the instructor (in the staff group) reads and collects; no other
  student can list, read or overwrite it;
- ``feedback/``: nbgrader's own (0711, one page per submission under a name only its student
  can compute from the submission's secret).

The classes below change only where submissions go and where collect finds them, and what is
required of the exchange root (that it exists, not that every user can write to it). Select them
with ``c.ExchangeFactory`` (the hub's ``nbgrader_config.py`` written by `make hub` does).
"""
from __future__ import annotations

import base64
import glob
import os

from nbgrader.exchange.default.collect import ExchangeCollect, groupby
from nbgrader.exchange.default.fetch_assignment import ExchangeFetchAssignment
from nbgrader.exchange.default.fetch_feedback import ExchangeFetchFeedback
from nbgrader.exchange.default.list import ExchangeList
from nbgrader.exchange.default.release_assignment import ExchangeReleaseAssignment
from nbgrader.exchange.default.release_feedback import ExchangeReleaseFeedback
from nbgrader.exchange.default.submit import ExchangeSubmit
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.utils import check_mode, get_username


class HubRoot:
    """The exchange root is made by `make hub`, root's and 0755: nbgrader's check that every user
    can write to it (and ``release_assignment``'s reset of it to 0777) is replaced by one that it
    exists; each operation still checks its own folder."""

    def ensure_root(self):
        if not os.path.isdir(self.root):
            self.fail(f"The exchange {self.root} does not exist: ask the instructor (`make hub` makes it).")


class ReleaseAssignment(HubRoot, ExchangeReleaseAssignment):
    pass


class FetchAssignment(HubRoot, ExchangeFetchAssignment):
    pass


class List(HubRoot, ExchangeList):
    pass


class ReleaseFeedback(HubRoot, ExchangeReleaseFeedback):
    pass


class FetchFeedback(HubRoot, ExchangeFetchFeedback):
    pass


class Submit(HubRoot, ExchangeSubmit):
    def init_dest(self):
        """nbgrader's, with ``inbound/<student>/`` in place of the shared ``inbound/``."""
        if self.coursedir.course_id == "":
            self.fail("No course id specified. Re-run with --course flag.")
        if not self.authenticator.has_access(self.coursedir.student_id, self.coursedir.course_id):
            self.fail("You do not have access to this course.")
        student = get_username()
        if self.coursedir.student_id not in ("*", student):
            self.fail("A student submits under their own account name only.")
        self.inbound_path = os.path.join(self.root, self.coursedir.course_id, "inbound", student)
        if not os.path.isdir(self.inbound_path):
            self.fail(f"No inbound folder for {student}: ask the instructor to add you to the class.")
        if not check_mode(self.inbound_path, write=True, execute=True):
            self.fail(f"You don't have write permissions to the directory: {self.inbound_path}")
        self.cache_path = os.path.join(self.cache, self.coursedir.course_id)
        random_str = base64.urlsafe_b64encode(os.urandom(9)).decode("ascii")
        self.assignment_filename = f"{student}+{self.coursedir.assignment_id}+{self.timestamp}+{random_str}"


class Collect(HubRoot, ExchangeCollect):
    def init_src(self):
        if self.coursedir.course_id == "":
            self.fail("No course id specified. Re-run with --course flag.")
        self.course_path = os.path.join(self.root, self.coursedir.course_id)
        self.inbound_path = os.path.join(self.course_path, "inbound")
        if not check_mode(self.inbound_path, read=True, execute=True):
            self.fail(f"You don't have read permissions for the directory: {self.inbound_path}")
        student_id = self.coursedir.student_id if self.coursedir.student_id else "*"
        pattern = os.path.join(self.inbound_path, "*", f"{student_id}+{self.coursedir.assignment_id}+*")
        records = []
        for path in glob.glob(pattern):
            record = self._path_to_record(path)
            # A submission counts only from its own student's folder: nobody hands in for another.
            folder = os.path.basename(os.path.dirname(path))
            if record["username"] != folder:
                self.log.warning("Ignoring %s: found in %s's folder", path, folder)
                continue
            record["filename"] = os.path.join(folder, record["filename"])
            records.append(record)
        usergroups = groupby(records, lambda item: item["username"])
        with Gradebook(self.coursedir.db_url, self.coursedir.course_id) as gb:
            try:
                self.duedate = gb.find_assignment(self.coursedir.assignment_id).duedate
            except MissingEntry:
                self.duedate = None
        newest = lambda v: self._sort_by_timestamp(v)  # noqa: E731
        if self.duedate is None or not self.before_duedate:
            self.src_records = [newest(v)[0] for v in usergroups.values()]
        else:
            self.src_records = [next(r for r in newest(v) if r["timestamp"] <= self.duedate)
                                for v in usergroups.values()
                                if any(r["timestamp"] <= self.duedate for r in v)]
