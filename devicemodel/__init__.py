"""The OCPP 2.0.1 device model of each charge point: its components and
variables as reported (NotifyReport, GetVariables) and set (SetVariables),
its boots and the reports asked of it. Protocol-neutral, like stations."""
