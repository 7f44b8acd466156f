"""AWS SAM templates as a user deploys and runs them: `stepd deploy` into a
running `stepd serve`, `serve --template`, and `stepd run TEMPLATE` (a
temporary store, one execution with the real functions). The intrinsics,
parameters and Globals are checked where a user sees their values: the
deploy report and Outputs, a function's environment (the echo function of
tests/functions/python/echo returns os.environ), Lambda's
GetFunction, and the definitions and outputs of state machines. Broken
templates (tests/templates/broken/) must fail with the loader's
`file:line:col: message`, from both `stepd deploy` and `stepd run`, and
leave the server as it was."""
import json
import os
import re
import subprocess
import tempfile

from harness import Server, aws, boto3_client, wait_done

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
TEMPLATES = os.path.join(TESTS, "templates")
ECHO_DIR = os.path.join(TESTS, "functions", "python", "echo")

FN_ARN = "arn:aws:lambda:us-east-1:123456789012:function:"
SM_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:"
TABLE_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/"

APP_WARNINGS = [
    "app/template.yaml:42:9: function Local: event Nightly (Schedule) is not delivered by stepd; "
    "invoke the function directly",
    "app/template.yaml:52:3: resource Alerts (AWS::SNS::Topic) is not run by stepd: Ref gives 'Alerts' "
    "and Fn::GetAtt a placeholder",
]


# ---- helpers ----------------------------------------------------------------

def stepd(ctx, srv, *args, timeout=60, cwd=TEMPLATES):
    """`stepd ARGS [--endpoint SRV]`, run in tests/templates so that paths
    (and so messages) are relative to it."""
    env = dict(os.environ)
    env.pop("STEPD_ENDPOINT", None)
    cmd = [ctx.stepd] + list(args) + (["--endpoint", srv.endpoint] if srv else [])
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, cwd=cwd)
    assert "Sanitizer" not in p.stderr and "runtime error:" not in p.stderr, p.stderr
    return p


def deploy(ctx, srv, *args):
    p = stepd(ctx, srv, "deploy", *args)
    assert p.returncode == 0, "stepd deploy %s: rc %d\n%s%s" % (args, p.returncode, p.stdout, p.stderr)
    return p


def report_rows(text):
    """The deploy report's resource lines: [(kind, logical id, action, arn)]."""
    rows = []
    for line in text.splitlines():
        m = re.fullmatch(r"\s+(function|state machine|table)\s+(\S+)\s+(created|updated|unchanged|replaced|"
                         r"deleted)\s+(\S+)", line)
        if m:
            rows.append(m.groups())
    return rows


def outputs_of(text):
    """The deploy report's Outputs: {key: value}, in order."""
    lines = text.splitlines()
    assert "Outputs:" in lines, text
    out = {}
    for line in lines[lines.index("Outputs:") + 1:]:
        m = re.fullmatch(r"  (\w+) = (.*)", line)
        if not m:
            break
        out[m.group(1)] = m.group(2)
    return out


def run(ctx, template, *args, rc=0):
    """`stepd run TEMPLATE ARGS`: (result JSON, stderr)."""
    p = stepd(ctx, None, "run", template, *args)
    assert p.returncode == rc, "stepd run %s %s: rc %d, expected %d\n%s%s" % (template, args, p.returncode, rc,
                                                                          p.stdout, p.stderr)
    return json.loads(p.stdout), p.stderr


def invoke(ctx, srv, fn, event=None):
    p = stepd(ctx, srv, "invoke", fn, "--event", json.dumps(event or {}))
    assert p.returncode == 0, "stepd invoke %s: rc %d\n%s%s" % (fn, p.returncode, p.stdout, p.stderr)
    return json.loads(p.stdout)


RUNTIME_VARS = {"TZ", "LANG", "PATH", "LD_LIBRARY_PATH", "PYTHONPATH", "HOME", "PWD", "SHLVL"}


def template_env(environ):
    """What a template set in a function's environment: the variables that
    are neither the runtime's nor inherited from the test's own environment."""
    return {k: v for k, v in environ.items()
            if k not in os.environ and k not in RUNTIME_VARS and not k.startswith(("AWS_", "LAMBDA_", "_"))}


def execute(srv, arn, inp):
    sfn = boto3_client(srv)
    ex = sfn.start_execution(stateMachineArn=arn, input=json.dumps(inp))["executionArn"]
    d = wait_done(srv, ex)
    assert d["status"] == "SUCCEEDED", d
    return json.loads(d["output"])


# ---- intrinsics, parameters, outputs ---------------------------------------

DEV_ENV = {
    "GREETING": "hello",
    "STAGE": "dev",
    "TABLE_NAME": "shop-dev-orders",       # the table's name, not its logical ID
    "TABLE_ARN": TABLE_ARN + "shop-dev-orders",
    "PLAIN_TABLE": "PlainTable",
    "DDB_TABLE": "shop_legacy",
    "DDB_STREAM": TABLE_ARN + "shop_legacy/stream/1970-01-01T00:00:00.000",
    "MACHINE_ARN": SM_ARN + "shop-flow",
    "MACHINE_NAME": "shop-flow",
    "MACHINE_GETATT_ARN": SM_ARN + "shop-flow",
    "HELPER_NAME": "intrinsics-helper",    # the stack name is the template's directory
    "HELPER_ARN": FN_ARN + "intrinsics-helper",
    "REGION": "us-east-1",
    "ACCOUNT": "123456789012",
    "PARTITION": "aws",
    "STACK": "intrinsics",
    "URL_SUFFIX": "amazonaws.com",
    "SUB": "shop-dev-us-east-1",
    "SUB_ATTR": "table %sshop-dev-orders machine shop-flow" % TABLE_ARN,
    "SUB_VARS": "intrinsics-helper/small/shop",
    "SUB_ESCAPED": "${Literal}-dev",
    "SUB_LONG": "aws:3",
    "JOIN": "a-dev-3",
    "JOIN_LIST": "a,b,c",
    "IF": "small",
    "IF_NESTED": "three-dev",
    "SELECT": "b",
    "SPLIT": "z",
    "SPLIT_JOIN": "p+q+r",
    "FIND": "small",
    "FIND_NUM": "1",
    "B64": "aGVsbG8gc3RlcGQ=",
    "AZ": "us-east-1a",
    "LONG_FORM": "shop-deva",
    "NUMBER": "42",
}


def test_templates_intrinsics_deploy(ctx):
    """Every intrinsic through `stepd deploy`: the report, the Outputs, a
    function's environment, a state machine's definition and output; then
    again with --parameter-overrides and --stack-name."""
    with Server(ctx.stepd) as srv:
        p = deploy(ctx, srv, "intrinsics/template.yaml")
        assert p.stdout.splitlines()[0] == "stepd: deployed intrinsics/template.yaml", p.stdout
        assert report_rows(p.stdout) == [
            ("function", "Echo", "created", FN_ARN + "Echo"),
            ("function", "Helper", "created", FN_ARN + "intrinsics-helper"),
            ("state machine", "Flow", "created", SM_ARN + "shop-flow"),
            ("table", "OrdersTable", "created", TABLE_ARN + "shop-dev-orders"),
            ("table", "PlainTable", "created", TABLE_ARN + "PlainTable"),
            ("table", "LegacyTable", "created", TABLE_ARN + "shop_legacy"),
        ], p.stdout
        assert "warning" not in p.stdout + p.stderr, p
        # the tables exist, with the template's keys, and take items
        ddb = boto3_client(srv, "dynamodb")
        assert sorted(ddb.list_tables()["TableNames"]) == ["PlainTable", "shop-dev-orders", "shop_legacy"]
        t = ddb.describe_table(TableName="shop-dev-orders")["Table"]
        assert t["TableStatus"] == "ACTIVE" and t["TableArn"] == TABLE_ARN + "shop-dev-orders", t
        ddb.put_item(TableName="PlainTable", Item={"id": {"S": "kept"}})
        assert outputs_of(p.stdout) == {
            "TableName": "shop-dev-orders",
            "TableArn": TABLE_ARN + "shop-dev-orders",
            "FlowArn": SM_ARN + "shop-flow",
            "HelperArn": FN_ARN + "intrinsics-helper",
            "Size": "small",
            "Zones": "a b c",
        }, p.stdout  # ProdOnlyName: its Condition is false

        assert template_env(invoke(ctx, srv, "Echo")["environ"]) == DEV_ENV
        assert invoke(ctx, srv, "intrinsics-helper")["context"]["function_name"] == "intrinsics-helper"
        names = sorted(f["FunctionName"] for f in aws(srv, "lambda", "list-functions")["Functions"])
        assert names == ["Echo", "intrinsics-helper"], names  # ProdOnly: not created

        d = aws(srv, "stepfunctions", "describe-state-machine", "--state-machine-arn", SM_ARN + "shop-flow")
        call = json.loads(d["definition"])["States"]["Call"]
        assert call["Resource"] == FN_ARN + "Echo", call
        assert call["Parameters"] == {"table": "shop-dev-orders", "stage": "dev", "items": [1, 3],
                                      "helper": FN_ARN + "intrinsics-helper"}, call
        assert execute(srv, SM_ARN + "shop-flow", {}) == call["Parameters"]

        # the same template for prod, as another stack
        p = deploy(ctx, srv, "intrinsics/template.yaml", "--parameter-overrides", "Stage=prod", "Prefix=acme",
                   "--stack-name", "demo", "--json")
        rep = json.loads(p.stdout)
        actions = {(r["logical_id"], r["name"], r["action"])
                   for k in ("functions", "state_machines", "tables") for r in rep[k]}
        assert actions == {("Echo", "Echo", "updated"), ("Helper", "demo-helper", "created"),
                           ("ProdOnly", "ProdOnly", "created"), ("Flow", "acme-flow", "created"),
                           ("OrdersTable", "acme-prod-orders", "created"),
                           ("PlainTable", "PlainTable", "unchanged"),
                           ("LegacyTable", "acme_legacy", "created")}, rep
        # a table the new deploy keeps as it is keeps its items
        assert ddb.get_item(TableName="PlainTable", Key={"id": {"S": "kept"}})["Item"] == {"id": {"S": "kept"}}
        assert [r["arn"] for r in rep["tables"]] == [TABLE_ARN + "acme-prod-orders", TABLE_ARN + "PlainTable",
                                                    TABLE_ARN + "acme_legacy"], rep
        assert rep["outputs"] == [
            {"key": "TableName", "value": "acme-prod-orders", "description": "the orders table"},
            {"key": "TableArn", "value": TABLE_ARN + "acme-prod-orders"},
            {"key": "FlowArn", "value": SM_ARN + "acme-flow"},
            {"key": "HelperArn", "value": FN_ARN + "demo-helper"},
            {"key": "Size", "value": "large"},
            {"key": "Zones", "value": "a b c"},
            {"key": "ProdOnlyName", "value": "ProdOnly"},
        ], rep["outputs"]
        assert rep["warnings"] == [], rep

        env = template_env(invoke(ctx, srv, "Echo")["environ"])
        want = dict(DEV_ENV)
        want.update({
            "STAGE": "prod", "TABLE_NAME": "acme-prod-orders", "TABLE_ARN": TABLE_ARN + "acme-prod-orders",
            "DDB_TABLE": "acme_legacy", "DDB_STREAM": TABLE_ARN + "acme_legacy/stream/1970-01-01T00:00:00.000",
            "MACHINE_ARN": SM_ARN + "acme-flow", "MACHINE_NAME": "acme-flow",
            "MACHINE_GETATT_ARN": SM_ARN + "acme-flow", "HELPER_NAME": "demo-helper",
            "HELPER_ARN": FN_ARN + "demo-helper", "STACK": "demo", "SUB": "acme-prod-us-east-1",
            "SUB_ATTR": "table %sacme-prod-orders machine acme-flow" % TABLE_ARN,
            "SUB_VARS": "demo-helper/large/acme", "SUB_ESCAPED": "${Literal}-prod", "JOIN": "a-prod-3",
            "IF": "big", "IF_NESTED": "anything", "ONLY_PROD": "present", "FIND": "large", "FIND_NUM": "3",
            "LONG_FORM": "acme-proda"})
        assert env == want, {k: (env.get(k), want.get(k)) for k in set(env) | set(want)
                             if env.get(k) != want.get(k)}
        assert execute(srv, SM_ARN + "acme-flow", {}) == {"table": "acme-prod-orders", "items": [1, 2, 3],
                                                          "helper": FN_ARN + "demo-helper"}


# ---- Globals, parameters, DefinitionUri, EXPRESS, warnings ------------------

def test_templates_globals_serve_template(ctx):
    """`serve --template` with --parameter-overrides: Globals merged into
    each function (local values win, environment variables merged), the
    DefinitionUri machine with its substitutions, the EXPRESS machine, and
    the warnings and "unchanged" of a redeploy of the same template."""
    with Server(ctx.stepd, args=["--template", os.path.join(TEMPLATES, "app", "template.yaml"),
                                 "--parameter-overrides", "Greeting=hi", "Mode=test"]) as srv:
        lam = boto3_client(srv, "lambda")
        plain = lam.get_function(FunctionName="Plain")["Configuration"]
        assert (plain["Timeout"], plain["MemorySize"], plain["Runtime"], plain["Handler"]) == \
            (7, 256, "python3.12", "app.handler"), plain
        assert plain["Environment"]["Variables"] == {"LOG_LEVEL": "INFO", "SHARED": "global", "GREETING": "hi"}
        local = lam.get_function(FunctionName="Local")["Configuration"]
        assert (local["Timeout"], local["MemorySize"]) == (3, 256), local
        assert local["Environment"]["Variables"] == {"LOG_LEVEL": "INFO", "SHARED": "local", "GREETING": "hi",
                                                     "OWN": "mine-test"}, local
        out = invoke(ctx, srv, "Local", {"q": 1})
        assert template_env(out["environ"]) == {"LOG_LEVEL": "INFO", "SHARED": "local", "GREETING": "hi",
                                                "OWN": "mine-test"}, out["environ"]
        assert 2000 < out["context"]["remaining_ms"] <= 3000, out["context"]  # Timeout 3, not the global 7

        d = aws(srv, "stepfunctions", "describe-state-machine", "--state-machine-arn", SM_ARN + "Flow")
        defn = json.loads(d["definition"])
        assert defn["Comment"] == "says hi, calls Plain by ARN and Local through lambda:invoke", defn
        assert defn["States"]["First"]["Resource"] == FN_ARN + "Plain", defn
        assert defn["States"]["Second"]["Parameters"]["FunctionName"] == "Local", defn
        assert d["type"] == "STANDARD", d
        assert execute(srv, SM_ARN + "Flow", {"n": 1}) == {
            "greeting": "hi", "table": "Orders", "input": {"n": 1},
            "first": {"fn": "Plain", "env": "global"},
            "second": {"fn": "Local", "env": "local", "status": 200}}

        q = aws(srv, "stepfunctions", "describe-state-machine", "--state-machine-arn", SM_ARN + "Quick")
        assert q["type"] == "EXPRESS", q
        import boto3
        from botocore.config import Config
        sync = boto3.client("stepfunctions", endpoint_url=srv.endpoint, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing",
                            config=Config(inject_host_prefix=False, retries={"max_attempts": 1}))
        r = sync.start_sync_execution(stateMachineArn=SM_ARN + "Quick", name="q1", input='{"n": 2}')
        assert r["status"] == "SUCCEEDED", r
        out = json.loads(r["output"])
        assert out["event"] == {"n": 2} and out["own"] == "mine-test", out
        assert out["execution"] == r["executionArn"] and ":express:Quick:q1:" in out["execution"], (out, r)

        # the same template again: nothing changes; the warnings are listed
        p = deploy(ctx, srv, "app/template.yaml", "--parameter-overrides", "Greeting=hi", "Mode=test")
        assert [(k, n, a) for k, n, a, _ in report_rows(p.stdout)] == [
            ("function", "Plain", "unchanged"), ("function", "Local", "unchanged"),
            ("state machine", "Flow", "unchanged"), ("state machine", "Quick", "unchanged"),
            ("table", "Orders", "unchanged")], p.stdout
        warnings = [line[len("warning: "):] for line in (p.stdout + p.stderr).splitlines()
                    if line.startswith("warning: ")]
        assert warnings == APP_WARNINGS, p
        assert outputs_of(p.stdout) == {"FlowArn": SM_ARN + "Flow", "QuickArn": SM_ARN + "Quick",
                                        "OrdersTable": "Orders"}, p.stdout
        rep = json.loads(stepd(ctx, srv, "deploy", "app/template.yaml", "--json",
                               "--parameter-overrides", "Greeting=hi", "Mode=test").stdout)
        assert rep["warnings"] == APP_WARNINGS, rep
        assert rep["tables"] == [{"logical_id": "Orders", "name": "Orders", "arn": TABLE_ARN + "Orders",
                                  "action": "unchanged"}], rep

        # a default parameter again: the functions that read it change
        p = deploy(ctx, srv, "app/template.yaml")
        assert [(n, a) for _, n, a, _ in report_rows(p.stdout)] == [
            ("Plain", "updated"), ("Local", "updated"), ("Flow", "updated"), ("Quick", "unchanged"),
            ("Orders", "unchanged")], p.stdout
        assert invoke(ctx, srv, "Plain")["environ"]["GREETING"] == "hello"


def test_templates_stepd_run(ctx):
    """`stepd run TEMPLATE`: the machine to run, the input, parameters, an
    EXPRESS machine, the history, the functions' logs on stderr, and the exit
    status of a failed execution."""
    p = stepd(ctx, None, "run", "app/template.yaml")
    assert p.returncode == 2 and p.stdout == "", p
    assert "stepd run: app/template.yaml: the template has several state machines (Flow, Quick): choose one " \
           "with --state-machine" in p.stderr, p.stderr

    out, err = run(ctx, "app/template.yaml", "--state-machine", "Flow", "--input", '{"n": 1}')
    assert out == {"status": "SUCCEEDED", "error": None, "cause": None, "output": {
        "greeting": "hello", "table": "Orders", "input": {"n": 1},
        "first": {"fn": "Plain", "env": "global"},
        "second": {"fn": "Local", "env": "local", "status": 200}}}, out
    # what the functions printed, each line under its function's name
    assert re.search(r"^\[Plain\] START RequestId: [0-9a-f-]{36} Version: \$LATEST$", err, re.M), err
    assert re.search(r"^\[Local\] echo: \{", err, re.M), err
    assert re.search(r"^\[Local\] REPORT RequestId: ", err, re.M), err
    for w in APP_WARNINGS:
        assert "stepd: warning: " + w in err.splitlines(), (w, err)

    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        f.write('{"from": "file"}')
    try:
        out, err = run(ctx, "app/template.yaml", "--state-machine", "Flow", "--input", f.name,
                       "--parameter-overrides", "Greeting=hey", "--history", "--quiet")
    finally:
        os.unlink(f.name)
    assert out["status"] == "SUCCEEDED" and out["output"]["greeting"] == "hey", out
    assert out["output"]["input"] == {"from": "file"}, out
    types = [e["type"] for e in out["history"]]
    assert types[0] == "ExecutionStarted" and types[-1] == "ExecutionSucceeded", types
    assert types.count("LambdaFunctionSucceeded") == 1 and types.count("TaskSucceeded") == 1, types
    assert "[Plain]" not in err, err  # --quiet: no function logs

    out, _ = run(ctx, "app/template.yaml", "--state-machine", "Quick", "--input", '{"n": 2}', "--quiet",
                 "--name", "fast")
    assert out["status"] == "SUCCEEDED" and out["output"]["event"] == {"n": 2}, out
    assert out["output"]["execution"].startswith("arn:aws:states:us-east-1:123456789012:express:Quick:fast:"), out

    # a failed execution: exit 1, the function's error
    out, _ = run(ctx, "functions.yaml", "--state-machine", "Uncaught", "--input", '{"order": "r-1"}', "--quiet",
                 rc=1)
    assert out["status"] == "FAILED" and out["error"] == "OrderRejected" and out["output"] is None, out
    assert json.loads(out["cause"])["errorMessage"] == "order r-1 rejected", out
    out, _ = run(ctx, "intrinsics/template.yaml", "--quiet", "--parameter-overrides", "Stage=prod")
    assert out["status"] == "SUCCEEDED" and out["output"]["items"] == [1, 2, 3], out


def test_templates_run_express_history(ctx):
    """`stepd run TEMPLATE --history` on an EXPRESS machine runs it and says
    plainly that an EXPRESS execution keeps no history (AWS gives none
    through its API either), pointing at the command that shows one."""
    out, err = run(ctx, "app/template.yaml", "--state-machine", "Quick", "--history")
    assert out["status"] == "SUCCEEDED", out
    assert "history" not in out, out
    assert "an EXPRESS execution keeps no history" in err and "--type EXPRESS --history" in err, err


MACHINE_TEMPLATE = """Transform: AWS::Serverless-2016-10-31
Resources:
  Machine:
    Type: AWS::Serverless::StateMachine
    Properties:
      Type: %s
      Definition:
        StartAt: P
        States:
          P: {Type: Pass, Result: %s, End: true}
Outputs:
  Stack:
    Value: !Ref AWS::StackName
  Arn:
    Value: !GetAtt Machine.Arn
"""


def test_templates_redeploy_actions(ctx):
    """`stepd deploy` with no TEMPLATE deploys ./template.yaml, as the stack
    named by its directory; a changed definition updates the machine, a
    changed Type replaces it (CloudFormation cannot change it in place)."""
    with Server(ctx.stepd) as srv:
        tmp = os.path.join(srv.tmp, "my-stack")
        os.mkdir(tmp)
        path = os.path.join(tmp, "template.yaml")

        def deploy_here(type_, result):
            with open(path, "w") as f:
                f.write(MACHINE_TEMPLATE % (type_, json.dumps(result)))
            p = stepd(ctx, srv, "deploy", cwd=tmp)
            assert p.returncode == 0, p
            assert outputs_of(p.stdout) == {"Stack": "my-stack", "Arn": SM_ARN + "Machine"}, p.stdout
            rows = report_rows(p.stdout)
            assert len(rows) == 1 and rows[0][:2] == ("state machine", "Machine"), p.stdout
            return rows[0][2]

        assert deploy_here("STANDARD", {"v": 1}) == "created"
        assert deploy_here("STANDARD", {"v": 1}) == "unchanged"
        assert deploy_here("STANDARD", {"v": 2}) == "updated"
        assert execute(srv, SM_ARN + "Machine", {}) == {"v": 2}
        assert deploy_here("EXPRESS", {"v": 3}) == "replaced"
        d = aws(srv, "stepfunctions", "describe-state-machine", "--state-machine-arn", SM_ARN + "Machine")
        assert d["type"] == "EXPRESS" and json.loads(d["definition"])["States"]["P"]["Result"] == {"v": 3}, d


# ---- broken templates -------------------------------------------------------

CODEURI_LOOKED = os.path.join(TEMPLATES, "broken") + "/../../functions/python/no-such-dir/"
BROKEN = [
    ("broken/syntax.yaml", "broken/syntax.yaml:11:3: invalid YAML: wrongly indented flow mapping"),
    ("broken/unknown_ref.yaml",
     "broken/unknown_ref.yaml:11:28: Ref to unknown resource or parameter 'OrdersTabel'"),
    ("broken/bad_getatt.yaml",
     "broken/bad_getatt.yaml:15:48: Fn::GetAtt: AWS::Serverless::Function 'Fn' has no attribute 'Name' "
     "(it has Arn)"),
    ("broken/missing_codeuri.yaml",
     "broken/missing_codeuri.yaml:6:16: function Fn: CodeUri '../../functions/python/no-such-dir/' does not "
     "exist (looked for %s)" % CODEURI_LOOKED),
    ("broken/undefined_subst.yaml",
     "broken/undefined_subst.yaml:16:41: state machine Machine: ${x} in the definition has no "
     "DefinitionSubstitutions entry"),
    ("broken/undefined_subst_uri.yaml",  # the place is in the definition file
     "broken/statemachine/undefined.asl.json:5:43: state machine Machine: ${x} in the definition has no "
     "DefinitionSubstitutions entry"),
]
INVALID_ASL = ("InvalidDefinition: state machine Machine: Invalid State Machine Definition: "
               "'MISSING_TRANSITION_TARGET: Missing 'Next' target: Nowhere at /States/Call/Next, "
               "MISSING_END_STATE: Workflow has no terminal state'")


def error_line(text, prefix):
    """The one line of stderr that starts with prefix (other lines may be
    notices, such as which python runs python3.12 functions)."""
    lines = [line for line in text.splitlines() if line.startswith(prefix)]
    assert len(lines) == 1, (prefix, text)
    return lines[0]


def test_templates_broken(ctx):
    """Each broken template fails with its exact message, from `stepd
    deploy` (exit 2, nothing sent) and `stepd run` (exit 2); invalid ASL is
    the server's InvalidDefinition. The server takes a good deploy after."""
    with Server(ctx.stepd) as srv:
        for path, message in BROKEN:
            p = stepd(ctx, srv, "deploy", path)
            assert (p.returncode, p.stdout) == (2, ""), (path, p)
            assert error_line(p.stderr, "stepd deploy: ") == "stepd deploy: " + message, (path, p.stderr)
            p = stepd(ctx, None, "run", path)
            assert (p.returncode, p.stdout) == (2, ""), (path, p)
            assert error_line(p.stderr, "stepd run: ") == "stepd run: " + message, (path, p.stderr)

        lam = boto3_client(srv, "lambda")
        assert lam.list_functions()["Functions"] == [], "a template the loader refused was deployed"

        p = stepd(ctx, srv, "deploy", "broken/invalid_asl.yaml")
        assert (p.returncode, p.stdout) == (1, ""), p  # the server refused it
        assert error_line(p.stderr, "stepd deploy: ") == "stepd deploy: " + INVALID_ASL, p.stderr
        p = stepd(ctx, None, "run", "broken/invalid_asl.yaml")
        assert (p.returncode, p.stdout) == (2, ""), p
        assert error_line(p.stderr, "stepd run: ") == "stepd run: " + INVALID_ASL, p.stderr

        # the server is unharmed: a good deploy works, its functions run
        p = deploy(ctx, srv, "app/template.yaml")
        assert ("function", "Plain", "created", FN_ARN + "Plain") in report_rows(p.stdout), p.stdout
        assert execute(srv, SM_ARN + "Flow", {})["second"]["status"] == 200


def test_templates_serve_broken_template(ctx):
    """`serve --template` with a broken template exits non-zero with the
    message, without listening."""
    for path, message in ((BROKEN[0][0], "stepd serve: " + BROKEN[0][1]),
                          (BROKEN[3][0], "stepd serve: " + BROKEN[3][1]),
                          ("broken/invalid_asl.yaml", "stepd serve: cannot deploy broken/invalid_asl.yaml: " +
                           INVALID_ASL[len("InvalidDefinition: "):])):
        with tempfile.TemporaryDirectory(prefix="stepd-it-") as tmp:
            p = subprocess.run([ctx.stepd, "serve", "--listen", "127.0.0.1:0", "--store",
                                os.path.join(tmp, "state.db"), "--template", path],
                               capture_output=True, text=True, timeout=30, cwd=TEMPLATES,
                               stdin=subprocess.DEVNULL)
        assert p.returncode != 0, (path, p)
        assert message in p.stderr.splitlines(), (path, message, p.stderr)
        assert "Sanitizer" not in p.stderr and "runtime error:" not in p.stderr, p.stderr


def test_templates_failed_deploy_changes_nothing(ctx):
    """A deploy that fails changes nothing, as a failed CloudFormation
    update rolls back: the functions before the bad state machine are
    neither created nor updated."""
    with Server(ctx.stepd) as srv:
        p = stepd(ctx, srv, "deploy", "broken/invalid_asl.yaml")
        assert p.returncode == 1, p
        names = [f["FunctionName"] for f in boto3_client(srv, "lambda").list_functions()["Functions"]]
        assert names == [], "a refused deploy left functions behind: %s" % names

        # an update whose state machine is refused keeps the old configuration
        tmp = srv.tmp
        good = os.path.join(tmp, "template.yaml")
        body = """Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: %s
      Handler: app.handler
      Runtime: python3.12
      Environment: {Variables: {COLOR: %s}}
  Machine:
    Type: AWS::Serverless::StateMachine
    Properties:
      Definition:
        StartAt: Call
        States:
          Call: {Type: Task, Resource: !GetAtt Fn.Arn, %s}
"""
        with open(good, "w") as f:
            f.write(body % (json.dumps(ECHO_DIR), "blue", "End: true"))
        deploy(ctx, srv, good)
        with open(good, "w") as f:
            f.write(body % (json.dumps(ECHO_DIR), "red", "Next: Nowhere"))
        p = stepd(ctx, srv, "deploy", good)
        assert p.returncode == 1 and "MISSING_TRANSITION_TARGET" in p.stderr, p
        color = invoke(ctx, srv, "Fn")["environ"]["COLOR"]
        assert color == "blue", "a refused deploy changed the function: COLOR is %s" % color
