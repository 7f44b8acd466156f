"""badimport — its module cannot be imported: Runtime.ImportModuleError."""
import stepd_no_such_module  # noqa: F401


def handler(event, context):
    return "unreachable"
