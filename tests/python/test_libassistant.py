"""The Python package against the real libassistant_c: standard library only."""
import os
import signal
import subprocess
import unittest

from libassistant import Assistant, AssistantError

FAST = {"argon2_memory_kib": 256, "argon2_iterations": 1}


def open_memory(**extra):
    return Assistant.open(database="sqlite::memory:", **FAST, **extra)


class OpenTest(unittest.TestCase):
    def test_a_bad_setting_is_named(self):
        with self.assertRaises(AssistantError) as ctx:
            Assistant.open(database="sqlite::memory:", bogus=1)
        self.assertEqual(ctx.exception.name, "invalid_config")
        self.assertEqual(ctx.exception.field, "bogus")
        self.assertEqual(ctx.exception.code, 28)

    def test_version(self):
        self.assertRegex(Assistant.version(), r"^\d+\.\d+\.\d+")

    def test_closed_instance_refuses(self):
        a = open_memory()
        a.close()
        with self.assertRaises(AssistantError):
            a.tasks.list(principal={"user_id": "x"})


class CallsTest(unittest.TestCase):
    def setUp(self):
        self.a = open_memory()
        self.ann = self.a.auth.register(email="ann@example.com", password="correct horse battery",
                                        name="Ann")
        self.bob = self.a.auth.register(email="bob@example.com", password="correct horse battery")

    def tearDown(self):
        self.a.close()

    def test_tasks_belong_to_their_owner(self):
        ann = self.a.with_token(self.ann["access_token"])
        bob = self.a.with_token(self.bob["access_token"])
        task = ann.tasks.create(title="buy milk", priority=1)["task"]
        self.assertEqual(ann.tasks.list()["tasks"][0]["id"], task["id"])
        self.assertEqual(bob.tasks.list()["tasks"], [])
        with self.assertRaises(AssistantError) as ctx:
            bob.tasks.get(id=task["id"])
        self.assertEqual(ctx.exception.name, "not_found")
        done = ann.tasks.update(id=task["id"], completed=True)["task"]
        self.assertTrue(done["completed"])
        self.assertEqual(ann.tasks.clear_completed(), {"deleted": 1})

    def test_errors_carry_code_message_and_field(self):
        ann = self.a.with_token(self.ann["access_token"])
        with self.assertRaises(AssistantError) as ctx:
            ann.tasks.create(title=7)
        self.assertEqual(ctx.exception.name, "invalid_field")
        self.assertEqual(ctx.exception.field, "title")
        with self.assertRaises(AssistantError) as ctx:
            self.a.tasks.list()
        self.assertEqual(ctx.exception.name, "missing_principal")
        with self.assertRaises(AssistantError) as ctx:
            self.a.for_user("nobody").tasks.list()
        self.assertEqual(ctx.exception.name, "unknown_user")
        with self.assertRaises(AssistantError) as ctx:
            self.a.call("tasks.nope")
        self.assertEqual(ctx.exception.name, "unknown_method")
        with self.assertRaises(AssistantError) as ctx:
            self.a.auth.login(email="ann@example.com", password="wrong password")
        self.assertEqual(ctx.exception.name, "invalid_credentials")

    def test_api_key_scopes_hold(self):
        ann = self.a.with_token(self.ann["access_token"])
        key = ann.auth.api_keys.create(name="reader", scopes=["tasks:read"])["key"]
        reader = self.a.with_token(key)
        self.assertEqual(reader.tasks.list()["tasks"], [])
        with self.assertRaises(AssistantError) as ctx:
            reader.tasks.create(title="x")
        self.assertEqual(ctx.exception.name, "insufficient_scope")

    def test_conversations_state_memory_and_user_data(self):
        ann = self.a.for_user(self.ann["user"]["id"])
        conv = ann.conversations.create(title="plans")["conversation"]
        self.assertEqual(ann.conversations.get(id=conv["id"])["conversation"]["title"], "plans")
        ann.agent.state.put(state={"mood": "calm"})
        self.assertEqual(ann.agent.state.patch(patch={"step": 2})["state"],
                         {"mood": "calm", "step": 2})
        ann.agent.memory.add(content="likes tea")
        self.assertEqual(ann.agent.memory.list()["memories"][0]["content"], "likes tea")
        ann.user.data.put(namespace="app1", key="k", value=[1, 2])
        self.assertEqual(ann.user.data.get(namespace="app1", key="k")["value"], [1, 2])

    def test_streamed_turn_and_cancel_by_leaving_the_loop(self):
        ann = self.a.for_user(self.ann["user"]["id"])
        events = list(ann.agent.stream(message="add buy milk to my list"))
        names = [e for e, _ in events]
        self.assertEqual(names[0], "message.start")
        self.assertIn("tool.call", names)
        self.assertEqual(names[-1], "message.done")
        self.assertEqual(ann.tasks.list()["tasks"][0]["title"], "buy milk")

        run_id = None
        for event, data in ann.agent.stream(message="what is on my list?"):
            run_id = data["run_id"]
            break
        run = ann.agent.runs.get(id=run_id)["run"]
        self.assertEqual(run["status"], "cancelled")

    def test_a_stream_refused_up_front_raises(self):
        ann = self.a.for_user(self.ann["user"]["id"])
        with self.assertRaises(AssistantError) as ctx:
            list(ann.agent.stream(message=""))
        self.assertIn(ctx.exception.name, ("invalid_field", "missing_field"))


@unittest.skipUnless(os.environ.get("FAKE_LLM_UPSTREAM"), "needs the fake upstream binary")
class ToolsTest(unittest.TestCase):
    def setUp(self):
        data = os.environ["C_TEST_DATA"]
        self.fake = subprocess.Popen(
            [os.environ["FAKE_LLM_UPSTREAM"], "--protocol", "openai",
             "--reply", f"{data}/c_weather_call.sse", "--reply", f"{data}/c_after_tool.sse",
             "--reply", f"{data}/c_null_call.sse", "--reply", f"{data}/c_after_tool.sse"],
            stdout=subprocess.PIPE, text=True)
        url = self.fake.stdout.readline().strip()
        self.a = open_memory(llm_provider="openai", llm_base_url=url, llm_model="m",
                             llm_api_key="sk-test")

    def tearDown(self):
        self.a.close()
        self.fake.send_signal(signal.SIGTERM)
        self.fake.wait()

    def test_the_agent_calls_a_python_tool(self):
        calls = []

        def weather(city):
            calls.append(city)
            return {"temp_c": 19}

        def broken():
            raise RuntimeError("no sensor")

        self.a.register_tool("c_weather", weather, "The weather",
                             {"type": "object", "properties": {"city": {"type": "string"}},
                              "required": ["city"]})
        self.a.register_tool("c_null", broken)
        with self.assertRaises(AssistantError):
            self.a.register_tool("c_weather", weather)
        ann = self.a.for_user(self.a.auth.register(
            email="ann@example.com", password="correct horse battery")["user"]["id"])
        events = list(ann.agent.stream(message="weather in Paris?"))
        self.assertEqual(calls, ["Paris"])
        result = [d for e, d in events if e == "tool.result"][0]
        self.assertEqual(result["result"], {"temp_c": 19})
        events = list(ann.agent.stream(message="the broken tool"))
        result = [d for e, d in events if e == "tool.result"][0]
        self.assertIn("no sensor", str(result["result"]))
        self.assertEqual(events[-1][0], "message.done")


if __name__ == "__main__":
    unittest.main()
