"""AdReel agents: brief parsing, the job runner and (later) the LangGraph planner. No algorithms here."""
