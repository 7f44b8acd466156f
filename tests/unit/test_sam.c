/* test_sam — SAM templates become deploy plans: the seed application
 * (three functions, a table, a state machine with DefinitionSubstitutions),
 * every intrinsic and pseudo parameter, every resource type and Globals, a
 * JSON template, and tests/sam/broken/ where each template must fail with
 * its exact message, line and column. Run from the repository root, or
 * give the fixture directory as the first argument. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sam/sam.h"
#include "tap.h"

static const char *fixtures = "tests/sam";
static char cwd[PATH_MAX];

static char *fixture(const char *rel)
{
    char *p = NULL;
    if (asprintf(&p, "%s/%s", fixtures, rel) < 0)
        abort();
    return p;
}

/* Loads a fixture that must load; prints the error when it does not. */
static json_t *load_opts(const char *rel, const struct sam_opts *o)
{
    char *path = fixture(rel);
    val_err err = {0};
    json_t *plan = sam_load(path, o, &err);
    if (!plan)
        fprintf(stderr, "  %s: %s\n", path, err.cause ? err.cause : "(no cause)");
    val_err_clear(&err);
    free(path);
    return plan;
}

static json_t *load(const char *rel) { return load_opts(rel, NULL); }

/* The entry of a plan array whose "logical_id" (or "key") is id. */
static json_t *entry(const json_t *plan, const char *array, const char *id)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(plan, array), i, e) {
        const char *k = json_string_value(json_object_get(e, "logical_id"));
        if (!k)
            k = json_string_value(json_object_get(e, "key"));
        if (k && !strcmp(k, id))
            return e;
    }
    return NULL;
}

static const char *str(const json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

static int str_is(const char *got, const char *want)
{
    int ok = got && !strcmp(got, want);
    if (!ok)
        fprintf(stderr, "  got:  %s\n  want: %s\n", got ? got : "(null)", want);
    return ok;
}

#define CHECK_STR(got, want) CHECK(str_is((got), (want)))

/* A state machine's definition text, compared as a value. */
static int definition_is(const json_t *sm, const char *want)
{
    const char *text = str(sm, "definition");
    json_t *def = text ? json_loads(text, 0, NULL) : NULL;
    int ok = tap_json_eq(def, want);
    json_decref(def);
    return ok;
}

static char *abs_fixture(const char *rel)
{
    char *p = NULL;
    if (asprintf(&p, "%s/%s/%s", cwd, fixtures, rel) < 0)
        abort();
    return p;
}

/* ------------------------------------------------------- the seed app */

static void test_seed(void)
{
    json_t *plan = load("orders/template.yaml");
    CHECK(plan != NULL);
    if (!plan)
        return;
    char *tpl = abs_fixture("orders/template.yaml");
    CHECK_STR(str(plan, "template"), tpl);
    free(tpl);
    CHECK_STR(str(plan, "stack_name"), "orders");
    CHECK_STR(str(plan, "region"), "us-east-1");
    CHECK_STR(str(plan, "account"), "123456789012");
    CHECK(json_array_size(json_object_get(plan, "functions")) == 3);
    const char *order[] = {"ValidateFunction", "ChargeFunction", "RecordFunction"};
    for (size_t i = 0; i < 3; i++)
        CHECK_STR(str(json_array_get(json_object_get(plan, "functions"), i), "logical_id"), order[i]);

    char *code = abs_fixture("orders/functions/validate");
    json_t *want = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:i, s:{s:s}}", "logical_id",
                             "ValidateFunction", "name", "ValidateFunction", "arn",
                             "arn:aws:lambda:us-east-1:123456789012:function:ValidateFunction",
                             "code_dir", code, "handler", "app.lambda_handler", "runtime", "python3.12",
                             "timeout", 10, "memory", 256, "environment", "LOG_LEVEL", "INFO");
    CHECK(val_equal(entry(plan, "functions", "ValidateFunction"), want));
    json_decref(want);
    free(code);

    /* pain point 4: !Ref of a table is its name, not its logical ID */
    json_t *record = entry(plan, "functions", "RecordFunction");
    CHECK_JSON(json_object_get(record, "environment"),
               "{\"LOG_LEVEL\": \"INFO\", \"TABLE_NAME\": \"orders-orders\"}");

    json_t *sm = entry(plan, "state_machines", "OrderStateMachine");
    CHECK_STR(str(sm, "name"), "OrderStateMachine");
    CHECK_STR(str(sm, "arn"), "arn:aws:states:us-east-1:123456789012:stateMachine:OrderStateMachine");
    CHECK_STR(str(sm, "type"), "STANDARD");
    CHECK_STR(str(sm, "role_arn"), "arn:aws:iam::123456789012:role/orders-OrderStateMachineRole");
    CHECK(definition_is(sm,
        "{\"Comment\": \"Validate, charge and record an order\", \"StartAt\": \"Validate\","
        " \"States\": {"
        "  \"Validate\": {\"Type\": \"Task\", \"Next\": \"Charge\","
        "   \"Resource\": \"arn:aws:lambda:us-east-1:123456789012:function:ValidateFunction\"},"
        "  \"Charge\": {\"Type\": \"Task\", \"Next\": \"Record\","
        "   \"Resource\": \"arn:aws:lambda:us-east-1:123456789012:function:ChargeFunction\","
        "   \"Retry\": [{\"ErrorEquals\": [\"States.TaskFailed\"], \"IntervalSeconds\": 1,"
        "     \"MaxAttempts\": 2, \"BackoffRate\": 2.0}]},"
        "  \"Record\": {\"Type\": \"Task\", \"End\": true,"
        "   \"Resource\": \"arn:aws:lambda:us-east-1:123456789012:function:RecordFunction\"}}}"));

    CHECK_JSON(json_object_get(plan, "tables"),
        "[{\"logical_id\": \"OrdersTable\", \"name\": \"orders-orders\","
        "  \"arn\": \"arn:aws:dynamodb:us-east-1:123456789012:table/orders-orders\","
        "  \"resource_type\": \"AWS::Serverless::SimpleTable\","
        "  \"create_table\": {\"TableName\": \"orders-orders\","
        "    \"AttributeDefinitions\": [{\"AttributeName\": \"order_id\", \"AttributeType\": \"S\"}],"
        "    \"KeySchema\": [{\"AttributeName\": \"order_id\", \"KeyType\": \"HASH\"}],"
        "    \"BillingMode\": \"PAY_PER_REQUEST\"}}]");
    CHECK_JSON(json_object_get(plan, "outputs"),
        "[{\"key\": \"OrderStateMachineArn\", \"description\": \"Order processing state machine ARN\","
        "  \"value\": \"arn:aws:states:us-east-1:123456789012:stateMachine:OrderStateMachine\"},"
        " {\"key\": \"OrdersTableName\", \"value\": \"orders-orders\"}]");
    CHECK_JSON(json_object_get(plan, "warnings"), "[]");
    json_decref(plan);

    /* region, account and stack name from the options flow into every ARN */
    struct sam_opts o = {.region = "eu-west-1", .account = "111122223333", .stack_name = "shop"};
    plan = load_opts("orders/template.yaml", &o);
    CHECK(plan != NULL);
    CHECK_STR(str(plan, "stack_name"), "shop");
    CHECK_STR(str(entry(plan, "state_machines", "OrderStateMachine"), "arn"),
              "arn:aws:states:eu-west-1:111122223333:stateMachine:OrderStateMachine");
    CHECK_STR(str(entry(plan, "state_machines", "OrderStateMachine"), "role_arn"),
              "arn:aws:iam::111122223333:role/shop-OrderStateMachineRole");
    CHECK_STR(str(json_object_get(entry(plan, "functions", "RecordFunction"), "environment"), "TABLE_NAME"),
              "shop-orders");
    CHECK_STR(str(entry(plan, "tables", "OrdersTable"), "arn"),
              "arn:aws:dynamodb:eu-west-1:111122223333:table/shop-orders");
    sm = entry(plan, "state_machines", "OrderStateMachine");
    CHECK(sm && strstr(str(sm, "definition"), "arn:aws:lambda:eu-west-1:111122223333:function:ChargeFunction"));
    json_decref(plan);
}

/* ----------------------------------------------------------- intrinsics */

static void test_intrinsics(void)
{
    json_t *plan = load("intrinsics/template.yaml");
    CHECK(plan != NULL);
    if (!plan)
        return;
    json_t *fn = entry(plan, "functions", "Fn");
    CHECK_JSON(json_object_get(fn, "environment"),
        "{\"REGION\": \"us-east-1\", \"ACCOUNT\": \"123456789012\", \"PARTITION\": \"aws\","
        " \"STACK\": \"intrinsics\","
        " \"STACK_ID\": \"arn:aws:cloudformation:us-east-1:123456789012:stack/intrinsics/"
        "00000000-0000-4000-8000-000000000000\","
        " \"SUFFIX\": \"amazonaws.com\","
        " \"SUB\": \"app-dev-us-east-1\","
        " \"SUB_ATTR\": \"arn:aws:dynamodb:us-east-1:123456789012:table/app-table|dev-machine\","
        " \"SUB_LIT\": \"${Literal}-dev\","
        " \"SUB_MAP\": \"dev/42/Fn\","
        " \"JOIN\": \"a:dev:1\", \"JOIN_LIST\": \"a,b,c\","
        " \"IF\": \"dev-value\","
        " \"SELECT\": \"b\", \"SELECT_SPLIT\": \"c\","
        " \"FIND\": \"ami-east\", \"FIND_NUM\": \"2\","
        " \"B64\": \"aGVsbG8=\","
        " \"AZ\": \"us-east-1a\", \"AZ2\": \"us-east-1c\","
        " \"COUNT\": \"3\", \"NUM\": \"42\", \"REAL\": \"1.50\", \"BOOL\": \"true\","
        " \"LEADING_ZERO\": \"012\", \"QUOTED\": \"yes\","
        " \"PORTS\": \"80+443\", \"SSM\": \"/my/param\", \"ZONE\": \"us-east-1a\","
        " \"OTHER_ARN\": \"arn:aws:lambda:us-east-1:123456789012:function:intrinsics-other\","
        " \"OTHER_NAME\": \"intrinsics-other\","
        " \"MACHINE_NAME\": \"dev-machine\","
        " \"MACHINE_ARN\": \"arn:aws:states:us-east-1:123456789012:stateMachine:dev-machine\","
        " \"ROLE_ARN\": \"arn:aws:iam::123456789012:role/intrinsics-FnRole\","
        " \"ROLE_NAME\": \"intrinsics-FnRole\","
        " \"LONG_REF\": \"dev\", \"LONG_SUB\": \"aws:3\","
        " \"LONG_GETATT\": \"arn:aws:dynamodb:us-east-1:123456789012:table/app-table\","
        " \"LONG_JOIN\": \"x-p\","
        " \"STREAM\": \"arn:aws:dynamodb:us-east-1:123456789012:table/app-table/stream/"
        "1970-01-01T00:00:00.000\","
        " \"TABLE\": \"app-table\","
        " \"TOPIC\": \"Topic\", \"TOPIC_ARN\": \"arn:aws:sns:us-east-1:123456789012:Topic\","
        " \"BOTH\": \"yes-both\", \"EITHER\": \"either\", \"LONG_IF\": \"east\","
        " \"STR_TAG\": \"7\"}");
    /* a Number parameter's text is taken where a number is wanted */
    CHECK(json_integer_value(json_object_get(entry(plan, "functions", "Other"), "timeout")) == 80);
    CHECK(entry(plan, "functions", "ProdOnly") == NULL);

    json_t *sm = entry(plan, "state_machines", "Machine");
    CHECK_STR(str(sm, "type"), "EXPRESS");
    CHECK_STR(str(sm, "name"), "dev-machine");
    CHECK(definition_is(sm,
        "{\"StartAt\": \"Call\", \"States\": {"
        " \"Call\": {\"Type\": \"Task\", \"Resource\": \"arn:aws:lambda:us-east-1:123456789012:function:Fn\","
        "  \"Parameters\": {\"Table\": \"app-table\", \"Stage\": \"dev\", \"Items\": [1, 3]},"
        "  \"Next\": \"Done\"},"
        " \"Done\": {\"Type\": \"Pass\", \"Result\": {\"ok\": true, \"n\": 1.5, \"none\": null},"
        "  \"End\": true}}}"));
    json_t *table = entry(plan, "tables", "Table");
    CHECK_STR(str(table, "resource_type"), "AWS::DynamoDB::Table");
    CHECK_JSON(json_object_get(json_object_get(table, "create_table"), "StreamSpecification"),
               "{\"StreamViewType\": \"NEW_IMAGE\", \"StreamEnabled\": true}");
    CHECK_JSON(json_object_get(plan, "outputs"),
        "[{\"key\": \"SubnetList\", \"value\": \"a,b,c\"},"
        " {\"key\": \"Zones\", \"value\": \"us-east-1a us-east-1b us-east-1c\","
        "  \"description\": \"zones of us-east-1\"},"
        " {\"key\": \"MachineArn\","
        "  \"value\": \"arn:aws:states:us-east-1:123456789012:stateMachine:dev-machine\"},"
        " {\"key\": \"Number\", \"value\": \"3\"}]");
    char *tpl = fixture("intrinsics/template.yaml");
    char *w = NULL;
    if (asprintf(&w, "%s:164:3: resource Topic (AWS::SNS::Topic) is not run by stepd: Ref gives "
                     "'Topic' and Fn::GetAtt a placeholder", tpl) < 0)
        abort();
    CHECK(json_array_size(json_object_get(plan, "warnings")) == 1);
    CHECK_STR(json_string_value(json_array_get(json_object_get(plan, "warnings"), 0)), w);
    free(w);
    free(tpl);
    json_decref(plan);

    /* overrides flip the conditions: the resource comes back, NoValue goes */
    const char *ov[] = {"Env=prod", "Subnets=x,y", "Count=7"};
    struct sam_opts o = {.overrides = ov, .n_overrides = 3};
    plan = load_opts("intrinsics/template.yaml", &o);
    CHECK(plan != NULL);
    if (!plan)
        return;
    json_t *env = json_object_get(entry(plan, "functions", "Fn"), "environment");
    CHECK_STR(str(env, "IF"), "prod-value");
    CHECK_STR(str(env, "GONE"), "x");
    CHECK_STR(str(env, "BOTH"), "no-both");
    CHECK_STR(str(env, "EITHER"), "either");
    CHECK_STR(str(env, "SELECT"), "y");
    CHECK_STR(str(env, "COUNT"), "7");
    CHECK_STR(str(env, "MACHINE_NAME"), "prod-machine");
    CHECK(entry(plan, "functions", "ProdOnly") != NULL);
    CHECK(definition_is(entry(plan, "state_machines", "Machine"),
        "{\"StartAt\": \"Call\", \"States\": {"
        " \"Call\": {\"Type\": \"Task\", \"Resource\": \"arn:aws:lambda:us-east-1:123456789012:function:Fn\","
        "  \"Parameters\": {\"Table\": \"app-table\", \"Items\": [1, 2, 3]}, \"Next\": \"Done\"},"
        " \"Done\": {\"Type\": \"Pass\", \"Result\": {\"ok\": true, \"n\": 1.5, \"none\": null},"
        "  \"End\": true}}}"));
    CHECK_STR(str(entry(plan, "outputs", "ProdOnlyName"), "value"), "ProdOnly");
    CHECK_STR(str(entry(plan, "outputs", "SubnetList"), "value"), "x,y");
    json_decref(plan);
}

/* ------------------------------------------------- resources and Globals */

static void test_resources(void)
{
    json_t *plan = load("resources/template.yaml");
    CHECK(plan != NULL);
    if (!plan)
        return;
    char *hello = abs_fixture("fn/hello");
    json_t *plain = entry(plan, "functions", "Plain");
    CHECK_STR(str(plain, "code_dir"), hello);
    CHECK_STR(str(plain, "handler"), "app.handler");
    CHECK(json_integer_value(json_object_get(plain, "timeout")) == 30);
    CHECK(json_integer_value(json_object_get(plain, "memory")) == 128);
    CHECK(json_object_get(plain, "concurrency") == NULL);
    CHECK_JSON(json_object_get(plain, "environment"),
               "{\"SHARED\": \"from-globals\", \"OVERRIDDEN\": \"from-globals\"}");
    json_t *tuned = entry(plan, "functions", "Tuned");
    CHECK_STR(str(tuned, "name"), "tuned-fn");
    CHECK_STR(str(tuned, "arn"), "arn:aws:lambda:us-east-1:123456789012:function:tuned-fn");
    CHECK_STR(str(tuned, "handler"), "app.other");
    CHECK(json_integer_value(json_object_get(tuned, "timeout")) == 60);
    CHECK(json_integer_value(json_object_get(tuned, "memory")) == 1024);
    CHECK(json_integer_value(json_object_get(tuned, "concurrency")) == 5);
    CHECK_JSON(json_object_get(tuned, "environment"),
               "{\"SHARED\": \"from-globals\", \"OVERRIDDEN\": \"local\", \"OWN\": \"items\"}");
    json_t *iso = entry(plan, "functions", "Isolated");
    CHECK(json_integer_value(json_object_get(iso, "timeout")) == 3);
    CHECK_JSON(json_object_get(iso, "environment"), "{}");
    CHECK_STR(str(iso, "code_dir"), hello);
    free(hello);

    json_t *sm = entry(plan, "state_machines", "FromYaml");
    CHECK_STR(str(sm, "name"), "from-yaml");
    CHECK_STR(str(sm, "role_arn"), "arn:aws:iam::123456789012:role/sfn");
    /* substitutions go in as text: ${Seconds} sat inside a string */
    CHECK(definition_is(sm,
        "{\"Comment\": \"a YAML definition, with substitutions\", \"StartAt\": \"Wait\", \"States\": {"
        " \"Wait\": {\"Type\": \"Wait\", \"Seconds\": \"5\", \"Next\": \"Work\"},"
        " \"Work\": {\"Type\": \"Task\", \"Resource\": \"arn:aws:states:::lambda:invoke\","
        "  \"Parameters\": {\"FunctionName\": \"arn:aws:lambda:us-east-1:123456789012:function:tuned-fn\","
        "   \"Payload\": {\"table\": \"items\", \"note\": \"literal $ and {braces} stay\"}},"
        "  \"End\": true}}}"));

    CHECK(json_array_size(json_object_get(plan, "tables")) == 3);
    CHECK_JSON(json_object_get(entry(plan, "tables", "Items"), "create_table"),
        "{\"TableName\": \"items\","
        " \"AttributeDefinitions\": [{\"AttributeName\": \"sku\", \"AttributeType\": \"N\"}],"
        " \"KeySchema\": [{\"AttributeName\": \"sku\", \"KeyType\": \"HASH\"}],"
        " \"BillingMode\": \"PROVISIONED\","
        " \"ProvisionedThroughput\": {\"ReadCapacityUnits\": 5, \"WriteCapacityUnits\": 7},"
        " \"SSESpecification\": {\"SSEEnabled\": true}}");
    CHECK_JSON(json_object_get(entry(plan, "tables", "Defaults"), "create_table"),
        "{\"TableName\": \"Defaults\","
        " \"AttributeDefinitions\": [{\"AttributeName\": \"id\", \"AttributeType\": \"S\"}],"
        " \"KeySchema\": [{\"AttributeName\": \"id\", \"KeyType\": \"HASH\"}],"
        " \"BillingMode\": \"PAY_PER_REQUEST\", \"SSESpecification\": {\"SSEEnabled\": true}}");
    json_t *orders = entry(plan, "tables", "Orders");
    CHECK_STR(str(orders, "resource_type"), "AWS::DynamoDB::Table");
    CHECK_JSON(json_object_get(orders, "create_table"),
        "{\"TableName\": \"Orders\","
        " \"AttributeDefinitions\": [{\"AttributeName\": \"pk\", \"AttributeType\": \"S\"},"
        "   {\"AttributeName\": \"sk\", \"AttributeType\": \"N\"},"
        "   {\"AttributeName\": \"gpk\", \"AttributeType\": \"S\"}],"
        " \"KeySchema\": [{\"AttributeName\": \"pk\", \"KeyType\": \"HASH\"},"
        "   {\"AttributeName\": \"sk\", \"KeyType\": \"RANGE\"}],"
        " \"ProvisionedThroughput\": {\"ReadCapacityUnits\": 2, \"WriteCapacityUnits\": 3},"
        " \"GlobalSecondaryIndexes\": [{\"IndexName\": \"by-gpk\","
        "   \"KeySchema\": [{\"AttributeName\": \"gpk\", \"KeyType\": \"HASH\"}],"
        "   \"Projection\": {\"ProjectionType\": \"ALL\"},"
        "   \"ProvisionedThroughput\": {\"ReadCapacityUnits\": 1, \"WriteCapacityUnits\": 1}}],"
        " \"LocalSecondaryIndexes\": [{\"IndexName\": \"by-sk\","
        "   \"KeySchema\": [{\"AttributeName\": \"pk\", \"KeyType\": \"HASH\"},"
        "     {\"AttributeName\": \"sk\", \"KeyType\": \"RANGE\"}],"
        "   \"Projection\": {\"ProjectionType\": \"KEYS_ONLY\"}}],"
        " \"BillingMode\": \"PROVISIONED\"}");

    CHECK_JSON(json_object_get(plan, "outputs"),
        "[{\"key\": \"ApiUrl\","
        "  \"value\": \"https://ServerlessRestApi.execute-api.us-east-1.amazonaws.com/Prod/hello/\"},"
        " {\"key\": \"QueueArn\", \"value\": \"arn:aws:sqs:us-east-1:123456789012:Queue\"},"
        " {\"key\": \"Roles\", \"value\": \"arn:aws:iam::123456789012:role/resources-PlainRole,"
        "arn:aws:iam::123456789012:role/resources-IsolatedRole\"}]");

    const char *want[] = {
        "4:5: Transform 'AWS::LanguageExtensions' is not applied by stepd (only "
        "AWS::Serverless-2016-10-31 is)",
        "27:3: Globals.Api is ignored: stepd does not run Api resources",
        "62:7: function Tuned: unknown property 'Enviroment' is ignored",
        "53:9: function Tuned: event Hello (Api) is not delivered by stepd; invoke the function directly",
        "58:9: function Tuned: event Nightly (Schedule) is not delivered by stepd; invoke the function "
        "directly",
        "88:9: state machine FromYaml: event Every (Schedule) is not delivered by stepd; start "
        "executions directly",
        "134:3: resource Queue (AWS::SQS::Queue) is not run by stepd: Ref gives 'Queue' and "
        "Fn::GetAtt a placeholder",
        "137:3: resource HelloApi (AWS::Serverless::Api) is not run by stepd: Ref gives 'HelloApi' "
        "and Fn::GetAtt a placeholder",
    };
    json_t *warnings = json_object_get(plan, "warnings");
    size_t n = sizeof want / sizeof want[0];
    CHECK_MSG(json_array_size(warnings) == n, "%zu warnings", json_array_size(warnings));
    char *tpl = fixture("resources/template.yaml");
    for (size_t i = 0; i < n && i < json_array_size(warnings); i++) {
        char *w = NULL;
        if (asprintf(&w, "%s:%s", tpl, want[i]) < 0)
            abort();
        CHECK_STR(json_string_value(json_array_get(warnings, i)), w);
        free(w);
    }
    free(tpl);
    json_decref(plan);
}

static void test_json_template(void)
{
    json_t *plan = load("json/template.json");
    CHECK(plan != NULL);
    if (!plan)
        return;
    json_t *fn = entry(plan, "functions", "Hello");
    CHECK(json_integer_value(json_object_get(fn, "memory")) == 512);
    CHECK_STR(str(fn, "runtime"), "python3.11");
    CHECK_JSON(json_object_get(fn, "environment"),
               "{\"STAGE\": \"test\", \"FLAG\": \"true\", \"URL\": \"https://example.com/test\"}");
    CHECK(definition_is(entry(plan, "state_machines", "Flow"),
        "{\"StartAt\": \"Hi\", \"States\": {\"Hi\": {\"Type\": \"Task\","
        " \"Resource\": \"arn:aws:lambda:us-east-1:123456789012:function:Hello\","
        " \"Comment\": \"stage test eA==\", \"End\": true}}}"));
    CHECK_JSON(json_object_get(plan, "outputs"),
               "[{\"key\": \"FlowName\", \"value\": \"Flow\", \"description\": \"the flow\"}]");
    CHECK_JSON(json_object_get(plan, "warnings"), "[]");
    json_decref(plan);
}

/* ------------------------------------------------------ broken templates */

struct broken {
    const char *file; /* under tests/sam/broken/, or the file the error is in */
    const char *where; /* "line:col" in that file */
    const char *message;
};

static const struct broken broken[] = {
    {"syntax.yaml", "7:1", "invalid YAML: flow sequence without a closing bracket"},
    {"syntax.json", "3:47", "invalid YAML: JSON disallows trailing comma before closing brace"},
    {"unknown_ref.yaml", "11:28", "Ref to unknown resource or parameter 'OrdersTabel'"},
    {"no_type.yaml", "2:3", "resource Table has no Type"},
    {"resources_list.yaml", "1:1", "Resources must be a mapping"},
    {"no_resources.yaml", "1:1", "the template has no Resources"},
    {"no_handler.yaml", "2:3", "function Fn has no Handler"},
    {"no_runtime.yaml", "2:3", "function Fn has no Runtime"},
    {"no_codeuri.yaml", "2:3", "function Fn has no CodeUri"},
    {"inline_code.yaml", "7:7", "function Fn: InlineCode is not supported; use CodeUri"},
    {"image.yaml", "5:20",
     "function Fn: PackageType Image is not supported: stepd runs functions from a CodeUri directory"},
    {"codeuri_s3.yaml", "6:9",
     "function Fn: CodeUri must be a local directory; an S3 location is not supported"},
    {"import_value.yaml", "10:19",
     "Fn::ImportValue cannot be resolved locally: stepd runs one stack, with no exports from others "
     "(pass the value as a parameter instead)"},
    {"cidr.yaml", "10:30", "Fn::Cidr cannot be resolved locally (pass the value as a parameter instead)"},
    {"circular_name.yaml", "9:36", "circular reference: the name of 'A' depends on itself"},
    {"circular_condition.yaml", "4:26", "circular reference: condition 'One' depends on itself"},
    {"unknown_globals.yaml", "4:3",
     "unknown Globals section 'Functions' (SAM has Function, StateMachine, SimpleTable, Api, HttpApi "
     "and LayerVersion)"},
    {"globals_role.yaml", "4:5", "Globals.Function cannot set Role (set it on each function)"},
    {"globals_state_machine.yaml", "4:5", "Globals.StateMachine cannot set Type (only PropagateTags)"},
    {"missing_param.yaml", "2:3", "parameter 'Stage' has no Default and no override (give Stage=VALUE)"},
    {"allowed_values.yaml", "7:14", "parameter 'Stage': 'qa' is not one of the AllowedValues (dev, prod)"},
    {"pattern.yaml", "4:14",
     "parameter 'Name': 'Bad_Name' does not match AllowedPattern '[a-z][a-z0-9-]*' (lower case "
     "letters, digits and dashes)"},
    {"max_value.yaml", "4:14", "parameter 'Count': 11 is greater than MaxValue 10"},
    {"not_number.yaml", "4:14", "parameter 'Ports': 'http' is not a number"},
    {"param_type.yaml", "3:11", "parameter 'Stage' has an unknown Type 'Strnig'"},
    {"dropped_ref.yaml", "19:23",
     "resource 'ProdTable' is not created (its Condition 'IsProd' is false) and cannot be referenced"},
    {"getatt_attr.yaml", "10:20",
     "Fn::GetAtt: AWS::Serverless::Function 'Fn' has no attribute 'Name' (it has Arn)"},
    {"getatt_param.yaml", "8:20", "Fn::GetAtt of 'Env', which is a parameter, not a resource"},
    {"sub_unknown.yaml", "6:17", "Fn::Sub refers to unknown resource or parameter 'Api'"},
    {"sub_list.yaml", "8:17", "Fn::Sub: ${Subnets} is a list, not a string (use Fn::Join for a list)"},
    {"subst_inline.yaml", "10:21",
     "state machine Machine: ${Nothing} in the definition has no DefinitionSubstitutions entry"},
    {"definition_s3.yaml", "6:9",
     "state machine Machine: DefinitionUri must be a local file; an S3 location is not supported"},
    {"no_definition.yaml", "2:3", "state machine Machine has neither Definition nor DefinitionUri"},
    {"machine_type.yaml", "5:13", "state machine Machine: Type must be STANDARD or EXPRESS, not 'FAST'"},
    {"alias.yaml", "8:17", "YAML aliases are not allowed in CloudFormation templates"},
    {"duplicate_key.yaml", "6:3", "duplicate key 'A'"},
    {"unknown_tag.yaml", "5:18", "unknown tag !Reff"},
    {"unknown_fn.yaml", "6:9", "unknown or unsupported intrinsic function Fn::Length"},
    {"select_range.yaml", "4:21", "Fn::Select: index 3 is out of range (the list has 3 items)"},
    {"findinmap.yaml", "7:31", "Fn::FindInMap: mapping 'Sizes' has no key 'prod'"},
    {"unknown_condition.yaml", "6:17", "unknown condition 'IsProduction'"},
    {"timeout.yaml", "8:16", "function Fn: Timeout must be between 1 and 900, not 1000"},
    {"two_docs.yaml", "2:1", "a template holds one YAML document, not several"},
    {"empty.yaml", "1:1", "the file is empty"},
    {"attribute.yaml", "4:5", "resource Fn: unknown attribute 'Propertes'"},
    {"root_scalar.yaml", "1:1", "a template must be a mapping of sections"},
    {"section.yaml", "2:1", "unknown template section 'Output'"},
    {"logical_id.yaml", "2:3", "logical ID 'my-table' must be alphanumeric (A-Z, a-z, 0-9)"},
    {"primary_key.yaml", "5:36",
     "table T: PrimaryKey.Type must be String, Number or Binary, not 'Integer'"},
    {"novalue_output.yaml", "4:12", "output X: Value must be a string or a list, not AWS::NoValue"},
    {"same_name.yaml", "8:18", "table name 'shared' is already used by A"},
    {"join_args.yaml", "4:18", "Fn::Join takes [delimiter, [values]]"},
    {"depends_on.yaml", "4:17", "resource A: DependsOn names unknown resource 'B'"},
    {"env_list.yaml", "10:17", "environment variable LIST must be a string, not a list"},
    {"subst_quote.yaml", "10:9",
     "state machine Machine: the definition is not valid JSON after DefinitionSubstitutions: '}' "
     "expected near 'hi' at line 1, column 61"},
};

/* Loads template (under broken/) and checks the error: kind, name, the
 * cause "<file>:<where>: <message>" and err->where "<file>:<where>". */
static void expect_error(const char *template, const char *file, const char *where, const char *message,
                         int kind)
{
    char *path = fixture(template);
    char *in = file ? fixture(file) : strdup(path);
    char *want_where = NULL, *want = NULL;
    if (asprintf(&want_where, "%s:%s", in, where) < 0 || asprintf(&want, "%s: %s", want_where, message) < 0)
        abort();
    val_err err = {0};
    json_t *plan = sam_load(path, NULL, &err);
    CHECK_MSG(plan == NULL, "%s loaded", path);
    json_decref(plan);
    CHECK_MSG(err.kind == kind, "%s: kind %d", path, err.kind);
    CHECK(err.name && !strcmp(err.name, "InvalidTemplate"));
    CHECK_STR(err.cause, want);
    CHECK_STR(err.where, want_where);
    val_err_clear(&err);
    free(want);
    free(want_where);
    free(in);
    free(path);
}

static void test_broken(void)
{
    for (size_t i = 0; i < sizeof broken / sizeof broken[0]; i++) {
        char *t = NULL;
        if (asprintf(&t, "broken/%s", broken[i].file) < 0)
            abort();
        expect_error(t, NULL, broken[i].where, broken[i].message, VAL_ERR_VALIDATION);
        free(t);
    }
    /* errors inside a DefinitionUri file name that file */
    expect_error("broken/subst_missing.yaml", "broken/statemachine/missing_subst.asl.json", "5:44",
                 "state machine Machine: ${SecondArn} in the definition has no DefinitionSubstitutions "
                 "entry", VAL_ERR_VALIDATION);
    expect_error("broken/definition_syntax.yaml", "broken/statemachine/broken.asl.json", "4:27",
                 "invalid YAML: missing comma in flow mapping", VAL_ERR_VALIDATION);
    expect_error("broken/definition_tag.yaml", "broken/statemachine/tagged.asl.yaml", "5:15",
                 "YAML tag !GetAtt is not allowed in a definition file", VAL_ERR_VALIDATION);

    /* messages that hold an absolute path */
    char *abs = abs_fixture("broken/../fn/nowhere");
    char *msg = NULL;
    if (asprintf(&msg, "function Fn: CodeUri '../fn/nowhere' does not exist (looked for %s)", abs) < 0)
        abort();
    expect_error("broken/codeuri_missing.yaml", NULL, "5:16", msg, VAL_ERR_VALIDATION);
    free(msg);
    free(abs);
    abs = abs_fixture("broken/statemachine/nope.asl.json");
    if (asprintf(&msg, "state machine Machine: DefinitionUri 'statemachine/nope.asl.json' does not "
                       "exist (looked for %s)", abs) < 0)
        abort();
    expect_error("broken/definition_missing.yaml", NULL, "5:22", msg, VAL_ERR_VALIDATION);
    free(msg);
    free(abs);

    /* a template that is not there is an I/O error naming it */
    val_err err = {0};
    char *path = fixture("broken/no-such-template.yaml");
    CHECK(sam_load(path, NULL, &err) == NULL);
    CHECK(err.kind == VAL_ERR_IO);
    CHECK(err.name && !strcmp(err.name, "InvalidTemplate"));
    CHECK(err.cause && !strncmp(err.cause, path, strlen(path)) && strstr(err.cause, "No such file"));
    CHECK_STR(err.where, path);
    val_err_clear(&err);
    free(path);
}

/* ----------------------------------------------------- in-memory texts */

/* sam_load_text on text; returns the plan, or NULL with *cause set. */
static json_t *load_text(const char *text, const struct sam_opts *o, char **cause)
{
    val_err err = {0};
    json_t *plan = sam_load_text(text, strlen(text), "mem/template.yaml", o, &err);
    *cause = err.cause ? strdup(err.cause) : NULL;
    val_err_clear(&err);
    return plan;
}

static void expect_text_error(const char *text, const struct sam_opts *o, const char *want)
{
    char *cause;
    json_t *plan = load_text(text, o, &cause);
    CHECK(plan == NULL);
    CHECK_STR(cause, want);
    json_decref(plan);
    free(cause);
}

static void test_hostile(void)
{
    /* bytes that are not UTF-8 never reach libfyaml, which loops forever
     * on some (fuzz_sam found "%" then 0x9c); a NUL is refused the same way */
    expect_text_error("%\x9c", NULL, "mem/template.yaml:1:2: invalid UTF-8 (byte 0x9c): a template is Unicode text");
    expect_text_error("Resources:\n  A: \xc3\x28\n", NULL,
                      "mem/template.yaml:2:6: invalid UTF-8 (byte 0xc3): a template is Unicode text");
    expect_text_error("Resources:\n  \xed\xa0\x80: 1\n", NULL,
                      "mem/template.yaml:2:3: invalid UTF-8 (byte 0xed): a template is Unicode text");
    {
        val_err err = {0};
        CHECK(sam_load_text("Resources: {}\n\0x", 16, "nul.yaml", NULL, &err) == NULL);
        CHECK_STR(err.cause, "nul.yaml:2:1: a NUL byte: a template is Unicode text");
        val_err_clear(&err);
    }

    /* 10,000 nested lists: refused at the depth limit, no stack overflow */
    size_t depth = 10000;
    char *deep = malloc(2 * depth + 64);
    strcpy(deep, "Resources: {}\nOutputs: {X: {Value: ");
    size_t n = strlen(deep);
    memset(deep + n, '[', depth);
    memset(deep + n + depth, ']', depth);
    strcpy(deep + n + 2 * depth, "}}\n");
    expect_text_error(deep, NULL, "mem/template.yaml:2:219: nesting deeper than 200 levels");
    free(deep);

    /* the same depth in block style */
    val_buf b = {0};
    val_buf_puts(&b, "Resources: {}\nMetadata:\n");
    for (int i = 0; i < 300; i++)
        val_buf_printf(&b, "%*s- \n", 2 + 2 * i, "");
    char *cause;
    json_t *plan = load_text(b.p, NULL, &cause);
    CHECK(plan == NULL && cause && strstr(cause, "nesting deeper than 200 levels"));
    json_decref(plan);
    free(cause);
    val_buf_free(&b);

    /* a long chain of conditions, each the next one: an error, not a
     * stack overflow */
    val_buf_puts(&b, "Conditions:\n");
    for (int i = 0; i < 5000; i++)
        val_buf_printf(&b, "  C%d: !Condition C%d\n", i, i + 1);
    val_buf_puts(&b, "  C5000: !Equals [a, a]\n");
    val_buf_puts(&b, "Resources: {}\n");
    plan = load_text(b.p, NULL, &cause);
    CHECK(plan == NULL && cause && strstr(cause, "nest deeper than 400 levels"));
    json_decref(plan);
    free(cause);
    val_buf_free(&b);

    /* a long chain of names, each table named after the next */
    val_buf_puts(&b, "Resources:\n");
    for (int i = 0; i < 3000; i++)
        val_buf_printf(&b, "  T%d:\n    Type: AWS::Serverless::SimpleTable\n    Properties:\n"
                           "      TableName: !Sub \"${T%d}x\"\n", i, i + 1);
    val_buf_puts(&b, "  T3000:\n    Type: AWS::Serverless::SimpleTable\n");
    plan = load_text(b.p, NULL, &cause);
    CHECK(plan == NULL && cause && strstr(cause, "nest deeper than 400 levels"));
    json_decref(plan);
    free(cause);
    val_buf_free(&b);

    /* a short chain of the same kind is fine */
    plan = load_text("Resources:\n"
                     "  A: {Type: AWS::Serverless::SimpleTable, Properties: {TableName: !Sub '${B}-a'}}\n"
                     "  B: {Type: AWS::Serverless::SimpleTable, Properties: {TableName: !Sub '${C}-b'}}\n"
                     "  C: {Type: AWS::Serverless::SimpleTable}\n", NULL, &cause);
    CHECK(plan != NULL);
    CHECK_STR(str(entry(plan, "tables", "A"), "name"), "C-b-a");
    json_decref(plan);
    free(cause);

    /* a self-reference in Fn::If's chosen branch */
    expect_text_error("Conditions:\n  Loop: !Or [!Condition Loop, !Equals [a, b]]\nResources: {}\n", NULL,
                      "mem/template.yaml:2:25: circular reference: condition 'Loop' depends on itself");
    expect_text_error("Resources:\n  T:\n    Type: AWS::Serverless::SimpleTable\n    Properties:\n"
                      "      TableName: !Ref T\n", NULL,
                      "mem/template.yaml:5:23: circular reference: the name of 'T' depends on itself");
}

static void test_options(void)
{
    const char *tpl = "Parameters:\n"
                      "  Stage:\n    Type: String\n    AllowedValues: [dev, prod]\n"
                      "  Size:\n    Type: Number\n    Default: 2\n"
                      "Resources: {}\n"
                      "Outputs:\n  Out:\n    Value: !Sub '${Stage}-${Size}'\n";
    const char *good[] = {"Stage=prod", "Size=4"};
    struct sam_opts o = {.overrides = good, .n_overrides = 2};
    char *cause;
    json_t *plan = load_text(tpl, &o, &cause);
    CHECK(plan != NULL);
    CHECK_STR(str(entry(plan, "outputs", "Out"), "value"), "prod-4");
    /* the template's directory names the stack when no name is given */
    CHECK_STR(str(plan, "stack_name"), "mem");
    CHECK(str(plan, "template") && !strncmp(str(plan, "template"), cwd, strlen(cwd)) &&
          strstr(str(plan, "template"), "/mem/template.yaml"));
    json_decref(plan);
    free(cause);

    expect_text_error(tpl, NULL,
                      "mem/template.yaml:2:3: parameter 'Stage' has no Default and no override (give "
                      "Stage=VALUE)");
    const char *unknown[] = {"Stage=dev", "Stag=prod"};
    o.overrides = unknown;
    expect_text_error(tpl, &o,
                      "mem/template.yaml:1:1: parameter override 'Stag' names no parameter of the template");
    const char *malformed[] = {"Stage"};
    o.overrides = malformed;
    o.n_overrides = 1;
    expect_text_error(tpl, &o, "mem/template.yaml:1:1: parameter override 'Stage' is not Key=Value");
    const char *bad_value[] = {"Stage=qa"};
    o.overrides = bad_value;
    expect_text_error(tpl, &o,
                      "mem/template.yaml:2:3: parameter 'Stage': 'qa' is not one of the AllowedValues "
                      "(dev, prod)");
    const char *bad_number[] = {"Stage=dev", "Size=big"};
    o.overrides = bad_number;
    o.n_overrides = 2;
    expect_text_error(tpl, &o, "mem/template.yaml:5:3: parameter 'Size': 'big' is not a number");

    /* no Transform is fine; another Transform is a warning */
    plan = load_text("Resources: {}\n", NULL, &cause);
    CHECK(plan != NULL);
    json_object_del(plan, "template");
    CHECK_JSON(plan, "{\"stack_name\": \"mem\", \"region\": \"us-east-1\","
                     " \"account\": \"123456789012\", \"functions\": [], \"state_machines\": [],"
                     " \"tables\": [], \"outputs\": [], \"warnings\": []}");
    json_decref(plan);
    free(cause);
    plan = load_text("Transform: AWS::Include\nResources: {}\n", NULL, &cause);
    CHECK(plan != NULL);
    CHECK_JSON(json_object_get(plan, "warnings"),
               "[\"mem/template.yaml:1:12: Transform 'AWS::Include' is not applied by stepd (only "
               "AWS::Serverless-2016-10-31 is)\"]");
    json_decref(plan);
    free(cause);

    /* the error struct without an out-parameter, and NULL options */
    CHECK(sam_load_text("Resources: [", 12, "x.yaml", NULL, NULL) == NULL);

    /* Condition on an output and an ImportValue in an unused branch */
    plan = load_text("Conditions:\n  No: !Equals [a, b]\nResources: {}\nOutputs:\n"
                     "  A:\n    Condition: No\n    Value: !ImportValue elsewhere\n"
                     "  B:\n    Value: !If [No, !ImportValue elsewhere, here]\n", NULL, &cause);
    CHECK(plan != NULL);
    CHECK_JSON(json_object_get(plan, "outputs"), "[{\"key\": \"B\", \"value\": \"here\"}]");
    json_decref(plan);
    free(cause);

    /* a YAML syntax error in memory still has a place */
    expect_text_error("Resources:\n  A:\n    Type: [x\n", NULL,
                      "mem/template.yaml:4:1: invalid YAML: flow sequence without a closing bracket");
}

int main(int argc, char **argv)
{
    if (argc > 1)
        fixtures = argv[1];
    if (!getcwd(cwd, sizeof cwd))
        abort();
    test_seed();
    test_intrinsics();
    test_resources();
    test_json_template();
    test_broken();
    test_hostile();
    test_options();
    TEST_DONE();
}
