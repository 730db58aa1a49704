"""Offline plan: run the real __main__.py under the Pulumi SDK's mock runtime and write what it
would do, without the Pulumi CLI, credentials or network.

    python -m tools.plan tutorial        # writes out/tutorial/{plan.txt,plan.json,graph.dot[,graph.svg]}

Modules: `stack` (a stack's config under the CLI's rules, `cli_rules`, read from its file as the CLI
reads it, `stack_file`, its secure values decrypted, `secure_values`), `monitor` (the run under mocks),
`recording` (what it registered, graph queries), `wire` (secrets on the wire), `state` (the plan
kept for the next one), `diff` (the changes against it), `render` (text, JSON, DOT), `files`
(private output files) and `__main__` (the command line).
"""
from tools.plan.paths import PROJECT_ROOT
from tools.plan.monitor import PlanMocks, RecordingMonitor, keystone_id, run_program
from tools.plan.recording import STACK_TYPE, Invocation, Recording, Registration
from tools.plan.render import plan_dot, plan_json, plan_text, summary, write_plan
from tools.plan.stack import StackConfig, stack_config
from tools.plan.stack_file import StackConfigError
from tools.plan.wire import SECRET_MASK, mask, secret_paths, unwrap

__all__ = [
    "PROJECT_ROOT", "PlanMocks", "RecordingMonitor", "keystone_id", "run_program", "STACK_TYPE", "Invocation",
    "Recording", "Registration", "plan_dot", "plan_json", "plan_text", "summary", "write_plan", "StackConfig",
    "StackConfigError", "stack_config", "SECRET_MASK", "mask", "secret_paths", "unwrap",
]
