"""A small in-memory Hub: the part of the Hugging Face Hub HTTP API that `huggingface_hub` uses to create repos,
upload (regular files inline, large/binary files through the LFS batch API), commit, list files and download.

Start it with `HubServer().start()`; point the client at `server.url` with `HF_ENDPOINT` (read by huggingface_hub at
import time), a dummy token and `HF_HUB_DISABLE_XET=1` (this server speaks LFS, not Xet). Requests it does not know
are answered 404 and recorded in `server.unhandled`, so a test can check the client asked for nothing unexpected.
"""

import base64
import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

# Files stored through LFS, as the Hub's default .gitattributes does (plus anything over 10 MB).
LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".h5", ".msgpack", ".onnx", ".npy", ".model", ".zip")
LFS_MIN_SIZE = 10 * 1024 * 1024
GITATTRIBUTES = "".join(f"*{suffix} filter=lfs diff=lfs merge=lfs -text\n" for suffix in LFS_SUFFIXES).encode()
REPO_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}


def git_blob_sha1(content: bytes) -> str:
    """The git object id of a blob: sha1 over `blob <size>\\0<content>`."""
    return hashlib.sha1(b"blob %d\x00" % len(content) + content).hexdigest()


@dataclass(frozen=True)
class StoredFile:
    content: bytes
    lfs: bool

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    @property
    def etag(self) -> str:
        """What the Hub reports as the file's etag: the LFS sha256, or the git blob id of a regular file."""
        return self.sha256 if self.lfs else git_blob_sha1(self.content)


@dataclass
class Repo:
    repo_id: str
    repo_type: str
    private: bool
    commits: dict[str, dict[str, StoredFile]] = field(default_factory=dict)  # sha -> tree
    history: list[str] = field(default_factory=list)  # commit shas, oldest first (all branches)
    branches: dict[str, str] = field(default_factory=dict)  # name -> sha

    def resolve(self, revision: str) -> str | None:
        """A branch name or a (possibly short) commit sha -> full commit sha."""
        if revision in self.branches:
            return self.branches[revision]
        matches = [sha for sha in self.commits if len(revision) >= 7 and sha.startswith(revision)]
        return matches[0] if len(matches) == 1 else None

    def commit(self, branch: str, tree: dict[str, StoredFile], summary: str) -> str:
        parent = self.branches.get(branch, "")
        digest = hashlib.sha1(f"{parent}\n{summary}\n{time.time_ns()}\n{len(self.history)}".encode())
        for path in sorted(tree):
            digest.update(f"{path}:{tree[path].etag}\n".encode())
        sha = digest.hexdigest()
        self.commits[sha] = dict(tree)
        self.history.append(sha)
        self.branches[branch] = sha
        return sha


class HubError(Exception):
    """An error answer: HTTP status, the X-Error-Code the client maps to an exception type, and a message."""

    def __init__(self, status: int, message: str, code: str | None = None, **body):
        super().__init__(message)
        self.status, self.message, self.code, self.body = status, message, code, body


class HubServer:
    """The in-memory Hub, served over HTTP on 127.0.0.1 (a free port) from a daemon thread."""

    def __init__(self):
        self.repos: dict[tuple[str, str], Repo] = {}
        self.lfs_objects: dict[str, bytes] = {}
        self.requests: list[tuple[str, str]] = []
        self.unhandled: list[tuple[str, str]] = []
        self.lock = threading.RLock()
        self._httpd: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "HubServer":
        server = self

        class Handler(_Handler):
            hub = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    # -- repository access -------------------------------------------------------------------------------------------

    def get_repo(self, repo_type: str, repo_id: str, authorized: bool) -> Repo:
        repo = self.repos.get((repo_type, repo_id))
        if repo is None or (repo.private and not authorized):
            raise HubError(404, f"Repository {repo_id} not found", "RepoNotFound")
        return repo

    def get_tree(self, repo: Repo, revision: str) -> tuple[str, dict[str, StoredFile]]:
        sha = repo.resolve(unquote(revision))
        if sha is None:
            raise HubError(404, f"Invalid rev id: {unquote(revision)}", "RevisionNotFound")
        return sha, repo.commits[sha]

    def files(self, repo_id: str, revision: str = "main", repo_type: str = "model") -> dict[str, bytes]:
        """Test helper: the files of a repo at a revision, {path: content}."""
        repo = self.repos[(repo_type, repo_id)]
        return {path: stored.content for path, stored in repo.commits[repo.resolve(revision)].items()}


def _is_lfs(path: str, size: int) -> bool:
    return path.endswith(LFS_SUFFIXES) or size >= LFS_MIN_SIZE


class _Handler(BaseHTTPRequestHandler):
    hub: HubServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - keep test output quiet
        pass

    # -- plumbing ----------------------------------------------------------------------------------------------------

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            return self.rfile.read(length)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().strip(), 16)
                chunk = self.rfile.read(size)
                self.rfile.readline()
                if size == 0:
                    return b"".join(chunks)
                chunks.append(chunk)
        return b""

    def _send(self, status: int, body: bytes = b"", headers: dict | None = None, head: bool = False) -> None:
        self.send_response(status)
        headers = {"Content-Type": "application/json", **(headers or {})}
        headers.setdefault("Content-Length", str(len(body)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _json(self, data, status: int = 200) -> None:
        self._send(status, json.dumps(data).encode())

    def _authorized(self) -> bool:
        return self.headers.get("Authorization", "").startswith("Bearer ")

    def _require_auth(self) -> None:
        if not self._authorized():
            raise HubError(401, "Invalid credentials in Authorization header")

    def _dispatch(self, method: str) -> None:
        split = urlsplit(self.path)
        path, query = unquote(split.path), parse_qs(split.query)
        self.hub.requests.append((method, self.path))
        try:
            with self.hub.lock:
                for pattern, handler_method, name in _ROUTES:
                    if handler_method == method and (match := re.fullmatch(pattern, split.path)):
                        groups = {key: unquote(value) if value else value for key, value in match.groupdict().items()}
                        return getattr(self, name)(query=query, **groups)
            self.hub.unhandled.append((method, self.path))
            raise HubError(404, f"Unknown endpoint {method} {path}")
        except HubError as error:
            headers = {"X-Error-Message": error.message}
            if error.code:
                headers["X-Error-Code"] = error.code
            body = json.dumps({"error": error.message, **error.body}).encode()
            self._send(error.status, body, headers, head=method == "HEAD")

    def do_GET(self):
        self._dispatch("GET")

    def do_HEAD(self):
        self._dispatch("HEAD")

    def do_POST(self):
        self._dispatch("POST")

    def do_PUT(self):
        self._dispatch("PUT")

    # -- repos -------------------------------------------------------------------------------------------------------

    def create_repo(self, query):
        self._require_auth()
        payload = json.loads(self._body())
        repo_type = payload.get("type") or "model"
        repo_id = f"{payload.get('organization') or 'user'}/{payload['name']}"
        prefix = "" if repo_type == "model" else f"{repo_type}s/"
        if (repo_type, repo_id) in self.hub.repos:
            raise HubError(409, "You already created this model repo", url=f"{self.hub.url}/{prefix}{repo_id}")
        repo = Repo(repo_id, repo_type, private=payload.get("visibility") == "private" or bool(payload.get("private")))
        repo.commit("main", {".gitattributes": StoredFile(GITATTRIBUTES, lfs=False)}, "initial commit")
        self.hub.repos[(repo_type, repo_id)] = repo
        self._json({"url": f"{self.hub.url}/{prefix}{repo_id}", "name": repo_id})

    def agent_harnesses(self, query):
        self._json({"standardEnvVars": [], "harnesses": {}})

    def validate_yaml(self, query):
        self._body()
        self._json({"errors": [], "warnings": []})

    def repo_info(self, query, kind, repo_id, revision=None):
        repo = self.hub.get_repo(REPO_TYPES[kind], repo_id, self._authorized())
        sha, tree = self.hub.get_tree(repo, revision or "main")
        self._json(
            {
                "_id": hashlib.sha1(repo_id.encode()).hexdigest()[:24],
                "id": repo_id,
                "modelId": repo_id,
                "sha": sha,
                "private": repo.private,
                "disabled": False,
                "gated": False,
                "tags": [],
                "downloads": 0,
                "likes": 0,
                "lastModified": "2026-01-01T00:00:00.000Z",
                "createdAt": "2026-01-01T00:00:00.000Z",
                "siblings": [{"rfilename": path} for path in sorted(tree)],
            }
        )

    def create_branch(self, query, kind, repo_id, branch):
        self._require_auth()
        body = json.loads(self._body() or b"{}")
        repo = self.hub.get_repo(REPO_TYPES[kind], repo_id, True)
        if branch in repo.branches:
            raise HubError(409, f"Branch {branch} already exists")
        repo.branches[branch] = self.hub.get_tree(repo, body.get("startingPoint") or "main")[0]
        self._json({})

    def tree(self, query, kind, repo_id, revision, path=None):
        repo = self.hub.get_repo(REPO_TYPES[kind], repo_id, self._authorized())
        _, tree = self.hub.get_tree(repo, revision)
        recursive = query.get("recursive", ["false"])[0].lower() in ("1", "true")
        prefix = f"{path.strip('/')}/" if path else ""
        below = {p: stored for p, stored in tree.items() if p.startswith(prefix)}
        if prefix and not below:
            raise HubError(404, f"{path} does not exist on {revision}", "EntryNotFound")
        entries, folders = [], set()
        for file_path in sorted(below):
            rest = file_path[len(prefix) :]
            if not recursive and "/" in rest:
                folders.add(prefix + rest.split("/")[0])
                continue
            if recursive:
                parts = rest.split("/")[:-1]
                folders.update(prefix + "/".join(parts[: i + 1]) for i in range(len(parts)))
            entries.append(self._file_entry(file_path, below[file_path]))
        folder_entries = [
            {"type": "directory", "oid": hashlib.sha1(f.encode()).hexdigest(), "size": 0, "path": f} for f in folders
        ]
        self._json(sorted(folder_entries, key=lambda e: e["path"]) + entries)

    @staticmethod
    def _file_entry(path: str, stored: StoredFile) -> dict:
        entry = {"type": "file", "oid": git_blob_sha1(stored.content), "size": len(stored.content), "path": path}
        if stored.lfs:
            entry["lfs"] = {"oid": stored.sha256, "size": len(stored.content), "pointerSize": 134}
        return entry

    # -- upload ------------------------------------------------------------------------------------------------------

    def preupload(self, query, kind, repo_id, revision):
        self._require_auth()
        payload = json.loads(self._body())
        repo = self.hub.get_repo(REPO_TYPES[kind], repo_id, True)
        _, tree = self.hub.get_tree(repo, revision)
        files = []
        for item in payload["files"]:
            existing = tree.get(item["path"])
            files.append(
                {
                    "path": item["path"],
                    "uploadMode": "lfs" if _is_lfs(item["path"], item["size"]) else "regular",
                    "shouldIgnore": False,
                    "oid": existing.etag if existing is not None else None,
                }
            )
        self._json({"files": files})

    def lfs_batch(self, query, kind, repo_id):
        self._require_auth()
        payload = json.loads(self._body())
        self.hub.get_repo(REPO_TYPES[kind or "models"], repo_id, True)
        objects = []
        for obj in payload["objects"]:
            entry = {"oid": obj["oid"], "size": obj["size"], "authenticated": True}
            if obj["oid"] not in self.hub.lfs_objects:  # present objects get no actions: nothing to upload
                entry["actions"] = {"upload": {"href": f"{self.hub.url}/lfs-objects/{obj['oid']}", "header": {}}}
            objects.append(entry)
        self._send(
            200,
            json.dumps({"transfer": "basic", "objects": objects, "hash_algo": "sha256"}).encode(),
            {"Content-Type": "application/vnd.git-lfs+json"},
        )

    def lfs_put(self, query, oid):
        content = self._body()
        if hashlib.sha256(content).hexdigest() != oid:
            raise HubError(400, f"Uploaded content does not match sha256 {oid}")
        self.hub.lfs_objects[oid] = content
        self._send(200)

    def commit(self, query, kind, repo_id, revision):
        self._require_auth()
        lines = [json.loads(line) for line in self._body().splitlines() if line.strip()]
        repo = self.hub.get_repo(REPO_TYPES[kind], repo_id, True)
        branch = unquote(revision)
        if branch not in repo.branches:
            raise HubError(404, f"Invalid rev id: {branch}", "RevisionNotFound")
        tree = dict(repo.commits[repo.branches[branch]])
        summary = "commit"
        for line in lines:
            key, value = line["key"], line["value"]
            if key == "header":
                summary = value["summary"]
                parent = value.get("parentCommit")
                if parent and not repo.branches[branch].startswith(parent):
                    raise HubError(412, f"Parent commit {parent} is not the head of {branch}")
            elif key == "file":
                tree[value["path"]] = StoredFile(base64.b64decode(value["content"]), lfs=False)
            elif key == "lfsFile":
                content = self.hub.lfs_objects.get(value["oid"])
                if content is None:
                    raise HubError(400, f"LFS object {value['oid']} of {value['path']} was never uploaded")
                tree[value["path"]] = StoredFile(content, lfs=True)
            elif key == "deletedFile":
                if tree.pop(value["path"], None) is None:
                    raise HubError(404, f"A file with this name doesn't exist: {value['path']}", "EntryNotFound")
            elif key == "deletedFolder":
                folder = value["path"].rstrip("/") + "/"
                for path in [p for p in tree if p.startswith(folder)]:
                    del tree[path]
            else:
                raise HubError(400, f"Unknown commit operation {key!r}")
        sha = repo.commit(branch, tree, summary)
        prefix = "" if repo.repo_type == "model" else f"{repo.repo_type}s/"
        self._json({"success": True, "commitOid": sha, "commitUrl": f"{self.hub.url}/{prefix}{repo_id}/commit/{sha}"})

    # -- download ----------------------------------------------------------------------------------------------------

    def resolve(self, query, kind, repo_id, revision, path):
        head = self.command == "HEAD"
        repo = self.hub.get_repo(REPO_TYPES[kind or "models"], repo_id, self._authorized())
        sha, tree = self.hub.get_tree(repo, revision)
        stored = tree.get(path)
        if stored is None:
            raise HubError(404, f"Entry not found: {path}", "EntryNotFound")
        headers = {
            "Content-Type": "application/octet-stream",
            "ETag": f'"{stored.etag}"',
            "X-Repo-Commit": sha,
            "Accept-Ranges": "bytes",
        }
        if stored.lfs:
            headers["X-Linked-Etag"] = f'"{stored.sha256}"'
            headers["X-Linked-Size"] = str(len(stored.content))
        content = stored.content
        status = 200
        if (ranged := re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))) and not head:
            start = int(ranged.group(1))
            headers["Content-Range"] = f"bytes {start}-{len(content) - 1}/{len(content)}"
            content, status = content[start:], 206
        headers["Content-Length"] = str(len(content))
        self._send(status, content, headers, head=head)


_REPO = r"(?P<repo_id>[\w.-]+/[\w.-]+)"
_KIND = r"(?P<kind>models|datasets|spaces)"
_ROUTES = [
    (r"/api/repos/create", "POST", "create_repo"),
    (r"/api/validate-yaml", "POST", "validate_yaml"),
    (r"/api/agent-harnesses", "GET", "agent_harnesses"),
    (rf"/api/{_KIND}/{_REPO}", "GET", "repo_info"),
    (rf"/api/{_KIND}/{_REPO}/revision/(?P<revision>[^/]+)", "GET", "repo_info"),
    (rf"/api/{_KIND}/{_REPO}/branch/(?P<branch>[^/]+)", "POST", "create_branch"),
    (rf"/api/{_KIND}/{_REPO}/tree/(?P<revision>[^/]+)(?:/(?P<path>.+))?", "GET", "tree"),
    (rf"/api/{_KIND}/{_REPO}/preupload/(?P<revision>[^/]+)", "POST", "preupload"),
    (rf"/api/{_KIND}/{_REPO}/commit/(?P<revision>[^/]+)", "POST", "commit"),
    (rf"/(?:(?P<kind>datasets|spaces)/)?{_REPO}\.git/info/lfs/objects/batch", "POST", "lfs_batch"),
    (r"/lfs-objects/(?P<oid>[0-9a-f]{64})", "PUT", "lfs_put"),
    (rf"/(?:(?P<kind>datasets|spaces)/)?{_REPO}/resolve/(?P<revision>[^/]+)/(?P<path>.+)", "GET", "resolve"),
    (rf"/(?:(?P<kind>datasets|spaces)/)?{_REPO}/resolve/(?P<revision>[^/]+)/(?P<path>.+)", "HEAD", "resolve"),
]

__all__ = ["HubServer", "git_blob_sha1"]
