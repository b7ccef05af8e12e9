"""The Python package's cost on top of the C ABI: tasks.list of 20 tasks.

    PYTHONPATH=bindings/python LIBASSISTANT_C=build/lib/libassistant_c.so \\
        /usr/bin/python3 bench/capi/python_call.py [rounds]

Prints the median over rounds of the process CPU time per call, for the
call through the package (JSON encode, ctypes, JSON decode) and for the bare
ctypes call with pre-encoded params (the C ABI's own cost as Python sees it).
"""
import ctypes
import statistics
import sys
import tempfile
import time

from libassistant import Assistant, load_library

rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 7
calls = 2000
with tempfile.TemporaryDirectory() as d:
    with Assistant.open(database=f"sqlite://{d}/bench.db", argon2_memory_kib=256,
                        argon2_iterations=1) as a:
        user = a.auth.register(email="p@example.com", password="correct horse battery")
        me = a.for_user(user["user"]["id"])
        for i in range(20):
            me.tasks.create(title=f"task number {i}", priority=1)

        def per_call(fn):
            samples = []
            for _ in range(rounds):
                start = time.process_time_ns()
                for _ in range(calls):
                    fn()
                samples.append((time.process_time_ns() - start) / calls)
            return statistics.median(samples)

        lib = load_library()
        params = ('{"principal": {"user_id": "%s"}, "limit": 20}' % user["user"]["id"]).encode()
        out = ctypes.c_void_p()

        def bare():
            lib.assistant_call(a._handle, b"tasks.list", params, ctypes.byref(out))
            lib.assistant_free(out.value)

        package = per_call(lambda: me.tasks.list(limit=20))
        ctypes_only = per_call(bare)
        print(f"tasks.list of 20 tasks, CPU per call, median of {rounds} rounds")
        print(f"  ctypes, params pre-encoded  {ctypes_only / 1000:8.1f} us")
        print(f"  libassistant package        {package / 1000:8.1f} us   "
              f"{package / ctypes_only:.2f}x the bare ctypes call")
