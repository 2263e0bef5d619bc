"""safetynet: the Pulumi program. Reads the stack config once, builds the components, exports
the outputs other stacks and the CLI consume."""

import pulumi

from components.config.base import ConfigError
from components.config.loading import load_from_pulumi
from components.stack import StackContext, build_protected_stack, build_staging_stack

try:
    config = load_from_pulumi()
except ConfigError as exc:
    # RunError: Pulumi prints the message alone, without a Python traceback.
    raise pulumi.RunError(str(exc)) from None

# A stack with safetynet:staging is a test stack: it stages prod's exports into its own tables.
build = build_staging_stack if config.staging else build_protected_stack
outputs = build(config, StackContext.current())
for key, value in outputs.items():
    pulumi.export(key, value)
