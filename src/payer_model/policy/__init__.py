"""Policy layer (DESIGN §6): segment rules, the policy file, decisions, worklist, replay.

Modules: :mod:`.rules` (conditions and rule matching), :mod:`.policies` (policy file model
and loader), :mod:`.decide` (one customer), :mod:`.segment` (a portfolio), :mod:`.worklist`
(the collector ranking), :mod:`.simulate` (replay on history), :mod:`.templates` (messages).
"""
