"""libassistant from Python: sign up, add tasks, a Python tool, a streamed
turn, and a turn cancelled by leaving the loop.

    PYTHONPATH=bindings/python LIBASSISTANT_C=build/lib/libassistant_c.so \
        python3 examples/python/app.py [DATABASE_URL]
"""
import sys

from libassistant import Assistant, AssistantError

database = sys.argv[1] if len(sys.argv) > 1 else "sqlite::memory:"
with Assistant.open(database=database) as a:
    a.register_tool("roll_die", lambda: {"rolled": 4}, "Roll a six-sided die")
    try:
        auth = a.auth.register(email="py@example.com", password="correct horse battery")
    except AssistantError as e:
        if e.name != "email_taken":
            raise
        auth = a.auth.login(email="py@example.com", password="correct horse battery")
    me = a.with_token(auth["access_token"])
    print("signed in as", auth["user"]["email"])

    me.tasks.create(title="call mom")
    print("streamed turn:")
    for event, data in me.agent.stream(message="add buy bread"):
        print("  event", event)

    print("cancelled turn:")
    for event, data in me.agent.stream(message="what is on my list?"):
        run_id = data["run_id"]
        break  # leaving the loop cancels the run
    print("  run", me.agent.runs.get(id=run_id)["run"]["status"])

    print("tasks:", ", ".join(t["title"] for t in me.tasks.list()["tasks"]))
    print("tools include roll_die:",
          any(t["name"] == "roll_die" for t in a.tools.list()["tools"]))
