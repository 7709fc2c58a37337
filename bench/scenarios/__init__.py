"""The scenarios of `python -m bench.run`, one function each (see bench/README.md).

Each takes the parsed options (with --servers, --connections, --processes
and --nodes already split into lists) and returns {"rows": [...], "servers": [...]}
plus anything scenario-specific; bench/report.py writes them down.
"""

from .command import scenario_command
from .connections import scenario_idle, scenario_storm
from .fleet import scenario_fleet
from .profiling import scenario_profile, scenario_variants
from .soak import scenario_soak
from .traffic import scenario_halfpeak, scenario_traffic

SCENARIOS = {
    "heartbeat": lambda args: scenario_traffic(args, "heartbeat"),
    "durable": lambda args: scenario_traffic(args, "durable"),
    "halfpeak": scenario_halfpeak,
    "idle": scenario_idle,
    "storm": scenario_storm,
    "soak": scenario_soak,
    "fleet": scenario_fleet,
    "command": scenario_command,
    "profile": scenario_profile,
    "variants": scenario_variants,
}
