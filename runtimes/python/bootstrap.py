"""stepd's Python runtime: serves one Lambda function over the Runtime API.

stepd starts it as `python3 bootstrap.py` in the function's code directory
with AWS_LAMBDA_RUNTIME_API and _HANDLER set; it imports the handler, then
loops GET /invocation/next -> handler(event, context) -> POST the result,
with the error documents, context object and log format of AWS's own Python
runtime (awslambdaric). Standard library only; Python 3.8 or later.
"""

import json
import logging
import os
import signal
import socket
import sys
import time
import traceback

_API = "/2018-06-01/runtime"
_THIS_FILE = os.path.abspath(__file__)
# What AWS's payloads call our own frames (seen only when the handler
# cannot even be called, e.g. a TypeError for a wrong number of arguments).
_AWS_BOOTSTRAP_PATH = "/var/runtime/bootstrap.py"

# The request id of the invocation in progress, for the logging filter.
_request_id = ""


# ------------------------------------------------------------------ errors


class _Fault(Exception):
    """An error the runtime itself reports, with one of AWS's Runtime.* types
    and no traceback of its own (AWS's FaultException)."""

    def __init__(self, error_type, message, trace=None, public_trace=None):
        Exception.__init__(self, message)
        self.error_type = error_type
        self.message = message
        self.trace = trace or []                # as logged: real paths
        self.public_trace = public_trace or []  # as posted: AWS's paths


_path_map = None


def _public_path(path):
    """Where a file would be on AWS: the code directory is /var/task, the
    standard library and site-packages are under /var/lang/lib/pythonX.Y;
    the error payloads (a state machine's Cause) show these paths."""
    global _path_map
    if _path_map is None:
        lang = "/var/lang/lib/python%d.%d" % sys.version_info[:2]
        pairs = [(_THIS_FILE, _AWS_BOOTSTRAP_PATH, True)]
        for root in {_TASK_ROOT, os.path.realpath(_TASK_ROOT)}:
            pairs.append((root.rstrip("/") + "/", "/var/task/", False))
        for entry in sys.path:
            if entry.endswith(("site-packages", "dist-packages")):
                pairs.append((entry + "/", lang + "/site-packages/", False))
        stdlib = os.path.dirname(os.__file__)
        pairs.append((stdlib + "/", lang + "/", False))
        _path_map = pairs
    if not path:
        return path
    for prefix, repl, exact in _path_map:
        if exact:
            if path == prefix:
                return repl
        elif path.startswith(prefix):
            return repl + path[len(prefix):]
    return path


def _frames(tb):
    """The traceback as AWS shows it: our own leading frames dropped (unless
    there is nothing else), each frame a (file, line, function, code) tuple,
    formatted without 3.11's column markers; returned twice, with the real
    paths (for the log) and with AWS's (for the payload)."""
    frames = [(f.filename, f.lineno, f.name, f.line) for f in traceback.extract_tb(tb)]
    for i, f in enumerate(frames):
        if f[0] != _THIS_FILE:
            frames = frames[i:]
            break
    public = [(_public_path(f[0]),) + f[1:] for f in frames]
    return traceback.format_list(frames), traceback.format_list(public)


def _error_doc(message, error_type, request_id, stack_trace):
    """The body of an /error POST, byte for byte as awslambdaric makes it."""
    return _dumps_plain({
        "errorMessage": message or "",
        "errorType": error_type or "",
        "requestId": request_id or "",
        "stackTrace": stack_trace or [],
    })


def _log_error(message, error_type, trace):
    """Writes an error to stderr in Lambda's log format: `[ERROR] Type:
    message`, then the traceback (real paths)."""
    if _LOG_JSON:
        line = _dumps_plain({
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()),
            "level": "ERROR",
            "errorMessage": message or "",
            "errorType": error_type or "",
            "requestId": _request_id,
            "stackTrace": trace or [],
        })
        _write_err(line + "\n")
        return
    head = "[ERROR]"
    if error_type:
        head += " " + error_type
    if message:
        head += (":" if error_type else "") + " " + message
    lines = [head, "Traceback (most recent call last):"]
    for element in trace:
        if element == "":
            lines.append("")
        else:
            lines.extend(element.splitlines())
    _write_err("\n".join(lines) + "\n")


def _write_err(text):
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except Exception:
        pass


def _flush_std():
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass


# -------------------------------------------------------------------- JSON

_ENSURE_ASCII = os.environ.get("AWS_EXECUTION_ENV") != "AWS_Lambda_python3.12"
_dumps_plain = json.JSONEncoder(ensure_ascii=_ENSURE_ASCII).encode

# AWS marshals with simplejson, which writes a Decimal (what boto3's
# DynamoDB resource returns for numbers) as the number it holds. The
# standard library cannot emit raw JSON, so a Decimal becomes a marked
# string that is unquoted afterwards; only results holding one pay for it.
_decimal_mark = None
_decimal_seen = False


def _json_default(o):
    global _decimal_mark, _decimal_seen
    if type(o).__name__ == "Decimal":
        import decimal
        if isinstance(o, decimal.Decimal):
            if o.is_nan():
                return float("nan")
            if _decimal_mark is None:
                _decimal_mark = "\x00stepd-dec-%s:" % os.urandom(8).hex()
            _decimal_seen = True
            return _decimal_mark + str(o)
    raise TypeError("Object of type %s is not JSON serializable" % o.__class__.__name__)


_encode = json.JSONEncoder(ensure_ascii=_ENSURE_ASCII, default=_json_default).encode


def _unmark_decimals(text):
    import re
    mark = json.dumps(_decimal_mark, ensure_ascii=_ENSURE_ASCII)[1:-1]
    return re.sub('"' + re.escape(mark) + '([^"\\\\]*)"', lambda m: m.group(1), text)


# ------------------------------------------------------------------ logging

_LOG_JSON = (os.environ.get("AWS_LAMBDA_LOG_FORMAT") or "").upper() == "JSON"
_LOG_RECORD_FIELDS = frozenset((
    "name", "msg", "args", "levelname", "levelno", "pathname", "filename",
    "module", "exc_info", "exc_text", "stack_info", "lineno", "funcName",
    "created", "msecs", "relativeCreated", "thread", "threadName",
    "processName", "process", "taskName", "aws_request_id", "tenant_id",
))


class _LambdaHandler(logging.Handler):
    """The root logger's handler: one record per write to stdout."""

    def emit(self, record):
        msg = self.format(record)
        if not msg.endswith("\n"):
            msg += "\n"  # a traceback after the message ends without one
        sys.stdout.write(msg)


class _LambdaFilter(logging.Filter):
    def filter(self, record):
        record.aws_request_id = _request_id
        return True


class _JsonFormatter(logging.Formatter):
    """AWS_LAMBDA_LOG_FORMAT=JSON: one JSON object per record."""

    def format(self, record):
        level = min(50, max(0, record.levelno)) // 10 * 10
        created = time.gmtime(record.created)
        doc = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", created)
            + ".%03dZ" % (int(record.created * 1000) % 1000),
            "level": logging.getLevelName(level),
            "message": record.getMessage(),
            "logger": record.name,
        }
        if record.exc_info:
            doc["stackTrace"] = traceback.format_tb(record.exc_info[2])
            doc["errorType"] = record.exc_info[0].__name__
            doc["errorMessage"] = str(record.exc_info[1])
            doc["location"] = "%s:%s:%s" % (record.pathname, record.funcName, record.lineno)
        doc["requestId"] = getattr(record, "aws_request_id", None)
        for key, value in record.__dict__.items():
            if key not in _LOG_RECORD_FIELDS and key not in doc:
                doc[key] = value
        doc = {k: v for k, v in doc.items() if v is not None}
        return json.dumps(doc, ensure_ascii=False, default=str) + "\n"


def _setup_logging():
    logging.Formatter.converter = time.gmtime
    handler = _LambdaHandler()
    if _LOG_JSON:
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
            "%Y-%m-%dT%H:%M:%S"))
    handler.addFilter(_LambdaFilter())
    root = logging.getLogger()
    level = (os.environ.get("AWS_LAMBDA_LOG_LEVEL") or "").upper()
    level = {"TRACE": "DEBUG"}.get(level, level)
    if level in ("DEBUG", "INFO", "WARN", "WARNING", "ERROR", "CRITICAL", "FATAL"):
        root.setLevel(level)
    root.addHandler(handler)


# ------------------------------------------------------------------ context

_ENV = os.environ
_FUNCTION_NAME = _ENV.get("AWS_LAMBDA_FUNCTION_NAME")
_FUNCTION_VERSION = _ENV.get("AWS_LAMBDA_FUNCTION_VERSION")
_MEMORY_SIZE = _ENV.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
_LOG_GROUP = _ENV.get("AWS_LAMBDA_LOG_GROUP_NAME")
_LOG_STREAM = _ENV.get("AWS_LAMBDA_LOG_STREAM_NAME")


class CognitoIdentity(object):
    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")

    def __init__(self, doc=None):
        doc = doc if isinstance(doc, dict) else {}
        self.cognito_identity_id = doc.get("cognitoIdentityId")
        self.cognito_identity_pool_id = doc.get("cognitoIdentityPoolId")

    def __repr__(self):
        return "CognitoIdentity([cognito_identity_id=%s,cognito_identity_pool_id=%s])" % (
            self.cognito_identity_id, self.cognito_identity_pool_id)


class Client(object):
    __slots__ = ("installation_id", "app_title", "app_version_name",
                 "app_version_code", "app_package_name")

    def __init__(self, doc):
        for field in self.__slots__:
            setattr(self, field, doc.get(field))

    def __repr__(self):
        return "Client([%s])" % ",".join(
            "%s=%s" % (f, getattr(self, f)) for f in self.__slots__)


class ClientContext(object):
    __slots__ = ("custom", "env", "client")

    def __init__(self, doc):
        self.custom = doc.get("custom")
        self.env = doc.get("env")
        client = doc.get("client")
        self.client = Client(client) if isinstance(client, dict) else None

    def __repr__(self):
        return "ClientContext([custom=%s,env=%s,client=%s])" % (self.custom, self.env, self.client)


def _parse_json_header(text, name):
    try:
        return json.loads(text)
    except Exception as e:
        raise _Fault("Runtime.LambdaContextUnmarshalError",
                     "Unable to parse %s JSON: %s" % (name, e))


class LambdaContext(object):
    """The `context` argument, with the attributes of AWS's LambdaContext."""

    def __init__(self, request_id, headers):
        self.aws_request_id = request_id
        self.log_group_name = _LOG_GROUP
        self.log_stream_name = _LOG_STREAM
        self.function_name = _FUNCTION_NAME
        self.memory_limit_in_mb = _MEMORY_SIZE
        self.function_version = _FUNCTION_VERSION
        self.invoked_function_arn = headers.get("lambda-runtime-invoked-function-arn")
        self.tenant_id = headers.get("lambda-runtime-aws-tenant-id")
        cc = headers.get("lambda-runtime-client-context")
        self.client_context = None
        if cc:
            doc = _parse_json_header(cc, "Client Context")
            if isinstance(doc, dict):
                self.client_context = ClientContext(doc)
        ci = headers.get("lambda-runtime-cognito-identity")
        self.identity = CognitoIdentity(_parse_json_header(ci, "Cognito Identity") if ci else None)
        try:
            self._epoch_deadline_time_in_ms = int(headers.get("lambda-runtime-deadline-ms") or 0)
        except ValueError:
            self._epoch_deadline_time_in_ms = 0

    def get_remaining_time_in_millis(self):
        delta = self._epoch_deadline_time_in_ms - int(time.time() * 1000)
        return delta if delta > 0 else 0

    def log(self, msg):
        sys.stdout.write(str(msg))

    def __repr__(self):
        return ("LambdaContext([aws_request_id=%s,log_group_name=%s,log_stream_name=%s,"
                "function_name=%s,memory_limit_in_mb=%s,function_version=%s,"
                "invoked_function_arn=%s,client_context=%s,identity=%s,tenant_id=%s])" % (
                    self.aws_request_id, self.log_group_name, self.log_stream_name,
                    self.function_name, self.memory_limit_in_mb, self.function_version,
                    self.invoked_function_arn, self.client_context, self.identity,
                    self.tenant_id))


# --------------------------------------------------------------------- HTTP


class _Dropped(Exception):
    """The connection closed; args[0] says whether no byte of the answer
    had arrived (then the request may be sent again)."""

    def __str__(self):
        return "the connection closed"


class _RuntimeConn(object):
    """One keep-alive HTTP/1.1 connection to the Runtime API, on a raw
    socket: http.client costs more than the rest of an invocation."""

    def __init__(self, address):
        if address.startswith("unix:"):
            self.family, self.addr, self.host = socket.AF_UNIX, address[5:], "localhost"
        else:
            host, _, port = address.rpartition(":")
            if not host or not port.isdigit():
                raise ValueError("AWS_LAMBDA_RUNTIME_API must be host:port, not %r" % address)
            self.family, self.addr, self.host = None, (host.strip("[]"), int(port)), address
        self.sock = None
        self.buf = b""

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
        self.sock = None
        self.buf = b""

    def _connect(self):
        if self.family == socket.AF_UNIX:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(self.addr)
            except OSError:
                s.close()
                raise
        else:
            s = socket.create_connection(self.addr)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = s
        self.buf = b""

    def request(self, head, body=None):
        """Sends head (the request line and headers, bytes) and body, and
        returns (status, headers with lower-case names, body). A connection
        that turns out closed before any answer is reopened once."""
        for attempt in (0, 1):
            if self.sock is None:
                self._connect()
            try:
                try:
                    if body is None:
                        self.sock.sendall(head)
                    elif len(body) <= 65536:
                        self.sock.sendall(head + body)
                    else:
                        self.sock.sendall(head)
                        self.sock.sendall(body)
                except OSError:
                    # The server may have answered (413) and closed before
                    # reading the whole body: its answer is still wanted.
                    pass
                return self._response()
            except _Dropped as e:
                self.close()
                if attempt or not e.args[0]:
                    raise
            except OSError:
                self.close()
                if attempt:
                    raise
        raise _Dropped(True)

    def _more(self, data):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise _Dropped(False)
        data += chunk
        return data

    def _response(self):
        sock = self.sock
        buf = self.buf
        while True:
            i = buf.find(b"\r\n\r\n")
            while i < 0:
                chunk = sock.recv(65536)
                if not chunk:
                    raise _Dropped(not buf)
                buf = buf + chunk if buf else chunk
                i = buf.find(b"\r\n\r\n", max(0, len(buf) - len(chunk) - 3))
            lines = buf[:i].decode("latin-1").split("\r\n")
            buf = buf[i + 4:]
            status_line = lines[0]
            parts = status_line.split(" ", 2)
            if len(parts) < 2 or not status_line.startswith("HTTP/") or not parts[1].isdigit():
                raise OSError("not an HTTP answer: %r" % status_line[:80])
            status = int(parts[1])
            if 100 <= status < 200 and status != 101:
                continue  # an interim answer: the real one follows
            break
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        te = headers.get("transfer-encoding")
        if te is not None and "chunked" in te.lower():
            body, buf = self._chunked(buf)
        else:
            length = headers.get("content-length")
            if length is not None:
                n = int(length)
                if len(buf) >= n:
                    body, buf = buf[:n], buf[n:]
                else:
                    body, buf = self._exactly(buf, n), b""
            elif headers.get("connection", "").lower() == "close" or status_line.startswith("HTTP/1.0"):
                body = bytearray(buf)
                while True:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    body += chunk
                buf = b""
            else:
                body = b""  # a bodiless answer on a kept-alive connection
        conn = headers.get("connection", "").lower()
        if conn == "close" or (status_line.startswith("HTTP/1.0") and conn != "keep-alive"):
            self.close()
        else:
            self.buf = buf
        return status, headers, body

    def _exactly(self, have, n):
        out = bytearray(n)
        view = memoryview(out)
        got = len(have)
        view[:got] = have
        while got < n:
            k = self.sock.recv_into(view[got:], min(n - got, 1 << 20))
            if not k:
                raise _Dropped(False)
            got += k
        return out

    def _chunked(self, have):
        data = bytearray(have)
        out = bytearray()
        pos = 0
        while True:
            j = data.find(b"\r\n", pos)
            while j < 0:
                data = self._more(data)
                j = data.find(b"\r\n", pos)
            size = int(bytes(data[pos:j]).split(b";", 1)[0].strip() or b"0", 16)
            pos = j + 2
            if size == 0:
                while True:  # trailers, up to an empty line
                    j = data.find(b"\r\n", pos)
                    while j < 0:
                        data = self._more(data)
                        j = data.find(b"\r\n", pos)
                    empty = j == pos
                    pos = j + 2
                    if empty:
                        return out, bytes(data[pos:])
            while len(data) < pos + size + 2:
                data = self._more(data)
            out += data[pos:pos + size]
            pos += size + 2


def _post_head(conn, path, length, content_type=b"application/json", error_type=None):
    head = b"POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\n" % (
        path, conn.host.encode("latin-1"), content_type)
    if error_type is not None:
        head += b"Lambda-Runtime-Function-Error-Type: %s\r\n" % error_type.encode("latin-1", "replace")
    return head + b"Content-Length: %d\r\n\r\n" % length


def _fatal(message):
    _write_err("stepd python runtime: %s\n" % message)
    _flush_std()
    sys.exit(1)


# -------------------------------------------------------------------- init

_TASK_ROOT = os.path.abspath(os.environ.get("LAMBDA_TASK_ROOT") or os.getcwd())


def _load_handler(spec):
    """Imports the handler named by _HANDLER (module.function, where the
    module may be written with dots or slashes), raising _Fault with
    AWS's Runtime.* errors."""
    try:
        modname, fname = spec.rsplit(".", 1)
    except ValueError as e:
        raise _Fault("Runtime.MalformedHandlerName", "Bad handler '%s': %s" % (spec, e))
    if modname.split(".")[0] in sys.builtin_module_names:
        raise _Fault("Runtime.BuiltInModuleConflict",
                     "Cannot use built-in module %s as a handler module" % modname)
    try:
        import importlib
        module = importlib.import_module(modname.replace("/", "."))
    except ImportError as e:
        message = "Unable to import module '%s': %s" % (modname, e)
        public = message
        if getattr(e, "path", None):
            public = message.replace(e.path, _public_path(e.path))
        fault = _Fault("Runtime.ImportModuleError", message)
        fault.public_message = public
        raise fault
    except SyntaxError as e:
        message = "Syntax error in module '%s': %s" % (modname, e)
        where = '  File "%s" Line %s\n    %s'
        raise _Fault("Runtime.UserCodeSyntaxError", message,
                     [where % (e.filename, e.lineno, e.text)],
                     [where % (_public_path(e.filename), e.lineno, e.text)])
    try:
        return getattr(module, fname)
    except AttributeError:
        raise _Fault("Runtime.HandlerNotFound",
                     "Handler '%s' missing on module '%s'" % (fname, modname))


def _init_error(conn, message, public_message, error_type, trace, public_trace):
    _log_error(message, error_type, trace)
    body = _error_doc(public_message, error_type, "", public_trace).encode("utf-8")
    try:
        conn.request(_post_head(conn, _API.encode() + b"/init/error", len(body),
                                error_type=error_type or "Unhandled"), body)
    except (OSError, _Dropped) as e:
        _write_err("stepd python runtime: could not report the init error: %s\n" % e)
    _flush_std()
    sys.exit(1)


# ------------------------------------------------------- boto3 -> stepd


class _BotocoreFinder(object):
    """Makes botocore older than 1.31 (which ignores AWS_ENDPOINT_URL) honour
    AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>, so that unchanged
    handlers reach stepd. It waits for `botocore.session` to be imported
    (nothing is imported at start) and then wraps Session.create_client."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "botocore.session":
            return None
        try:
            sys.meta_path.remove(self)
        except ValueError:
            pass
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if find is None:
                continue
            spec = find(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _PatchingLoader(spec.loader)
        return spec


class _PatchingLoader(object):
    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        create = getattr(self._loader, "create_module", None)
        return create(spec) if create is not None else None

    def exec_module(self, module):
        self._loader.exec_module(module)
        _patch_botocore_session(module)

    def __getattr__(self, name):
        return getattr(self._loader, name)


def _version_tuple(text):
    out = []
    for part in str(text).split(".")[:3]:
        digits = ""
        for ch in part:
            if not ch.isdigit():
                break
            digits += ch
        out.append(int(digits or 0))
    return tuple(out)


def _configured_endpoint(session, service_name, api_version):
    env = os.environ
    if env.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "").lower() == "true":
        return None
    if service_name and any(k.startswith("AWS_ENDPOINT_URL_") for k in env):
        try:
            service_id = str(session.get_service_model(service_name, api_version).service_id)
        except Exception:
            service_id = str(service_name)
        url = env.get("AWS_ENDPOINT_URL_" + service_id.replace(" ", "_").replace("-", "_").upper())
        if url:
            return url
    return env.get("AWS_ENDPOINT_URL") or None


def _patch_botocore_session(module):
    botocore = sys.modules.get("botocore")
    version = getattr(botocore, "__version__", None)
    if version is None or _version_tuple(version) >= (1, 31):
        return  # botocore 1.31+ reads AWS_ENDPOINT_URL itself
    session_class = getattr(module, "Session", None)
    original = getattr(session_class, "create_client", None)
    if original is None:
        return

    def create_client(self, *args, **kwargs):
        # create_client(service_name, region_name, api_version, use_ssl,
        #               verify, endpoint_url, ...)
        if len(args) > 5:
            if args[5] is None:
                url = _configured_endpoint(self, args[0], args[2])
                if url:
                    args = args[:5] + (url,) + args[6:]
        elif kwargs.get("endpoint_url") is None:
            service = args[0] if args else kwargs.get("service_name")
            api_version = args[2] if len(args) > 2 else kwargs.get("api_version")
            url = _configured_endpoint(self, service, api_version)
            if url:
                kwargs["endpoint_url"] = url
        return original(self, *args, **kwargs)

    create_client.__wrapped__ = original
    create_client.stepd_endpoint_url_patch = True
    create_client.__doc__ = original.__doc__
    create_client.__name__ = original.__name__
    session_class.create_client = create_client


# --------------------------------------------------------------------- loop


def _serve(conn, request_handler):
    global _request_id, _decimal_seen
    host = conn.host.encode("latin-1")
    next_head = b"GET %s/invocation/next HTTP/1.1\r\nHost: %s\r\n\r\n" % (_API.encode(), host)
    # A template for `%`: the host (an IPv6 zone may hold one) is escaped.
    response_head = (b"POST " + _API.encode() + b"/invocation/%s/response HTTP/1.1\r\nHost: "
                     + host.replace(b"%", b"%%")
                     + b"\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n")
    environ = os.environ
    loads = json.loads
    encode = _encode
    flush = _flush_std
    request = conn.request
    while True:
        try:
            status, headers, body = request(next_head)
        except (OSError, _Dropped) as e:
            _fatal("lost the Runtime API at %s: %s" % (conn.host, e))
        if status != 200:
            _fatal("GET invocation/next answered %d: %s" % (status, bytes(body[:200])))
        invoke_id = headers.get("lambda-runtime-aws-request-id", "")
        _request_id = invoke_id
        trace_id = headers.get("lambda-runtime-trace-id")
        if trace_id is not None:
            environ["_X_AMZN_TRACE_ID"] = trace_id
        elif "_X_AMZN_TRACE_ID" in environ:
            del environ["_X_AMZN_TRACE_ID"]
        error = None
        try:
            lambda_context = LambdaContext(invoke_id, headers)
            if body:
                try:
                    event = loads(body)
                except Exception as e:
                    raise _Fault("Runtime.UnmarshalError", "Unable to unmarshal input: %s" % e)
            else:
                event = {}
            response = request_handler(event, lambda_context)
            if type(response) is bytes:
                result, content_type = response, b"application/unknown"
            else:
                try:
                    result = encode(response)
                except Exception as e:
                    _decimal_seen = False
                    raise _Fault("Runtime.MarshalError", "Unable to marshal response: %s" % e)
                if _decimal_seen:
                    _decimal_seen = False
                    result = _unmark_decimals(result)
                result = result.encode("utf-8", "surrogatepass")
                content_type = b"application/json"
        except _Fault as f:
            error = (f.message, f.error_type, f.trace, f.public_trace)
        except Exception as e:
            trace, public_trace = _frames(sys.exc_info()[2])
            try:
                message = str(e)
            except Exception:
                message = "<unprintable %s object>" % type(e).__name__
            error = (message, type(e).__name__, trace, public_trace)
        flush()
        rid = invoke_id.encode("latin-1", "replace")
        try:
            if error is None:
                status = request(response_head % (rid, content_type, len(result)), result)[0]
            else:
                message, error_type, trace, public_trace = error
                _log_error(message, error_type, trace)
                doc = _error_doc(message, error_type, invoke_id, public_trace)
                doc = doc.encode("utf-8", "surrogatepass")
                head = _post_head(conn, _API.encode() + b"/invocation/" + rid + b"/error",
                                  len(doc), error_type="Unhandled")
                status = request(head, doc)[0]
        except (OSError, _Dropped) as e:
            # The answer is lost (the connection broke under it); the next
            # GET reconnects or finds the server gone.
            _write_err("stepd python runtime: could not post the result of %s: %s\n"
                       % (invoke_id, e))
            conn.close()
            continue
        if status >= 500:
            _fatal("the Runtime API answered %d to the result of %s" % (status, invoke_id))
        # 202; or 413 (too large: stepd reports it), or another 4xx (an
        # invocation that already timed out): on to the next one.


def _on_sigterm(signum, frame):
    _flush_std()
    sys.exit(0)


def main():
    signal.signal(signal.SIGTERM, _on_sigterm)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(line_buffering=True)
        except Exception:
            pass
    # The code directory comes first on sys.path, and our own directory
    # (Python's sys.path[0] for a script) not at all.
    here = os.path.dirname(_THIS_FILE)
    if sys.path and sys.path[0] and os.path.abspath(sys.path[0]) in (here, os.path.realpath(here)):
        del sys.path[0]
    sys.path.insert(0, _TASK_ROOT)
    sys.meta_path.insert(0, _BotocoreFinder())
    _setup_logging()

    address = os.environ.get("AWS_LAMBDA_RUNTIME_API")
    if not address:
        _fatal("AWS_LAMBDA_RUNTIME_API is not set")
    try:
        conn = _RuntimeConn(address)
    except ValueError as e:
        _fatal(str(e))

    try:
        request_handler = _load_handler(os.environ.get("_HANDLER", ""))
    except _Fault as f:
        _init_error(conn, f.message, getattr(f, "public_message", f.message), f.error_type,
                    f.trace, f.public_trace)
    except Exception as e:
        trace, public_trace = _frames(sys.exc_info()[2])
        _init_error(conn, str(e), str(e), type(e).__name__, trace, public_trace)
    _serve(conn, request_handler)


if __name__ == "__main__":
    main()
