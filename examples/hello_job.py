"""oprun's bundled example: a small job with config, fan-out and a fan-in.

Run it with `oprun job execute -f examples/hello_job.py` (recorded on the instance
of $OPRUN_HOME, default ~/.oprun; see it with `oprun run list`), or in process
with `python examples/hello_job.py`.
"""

from oprun import Config, In, Nothing, Out, RunConfig, job, op


class GreetConfig(Config):
    name: str = "world"
    times: int = 3


@op
def greet(config: GreetConfig) -> list[str]:
    return [f"hello, {config.name}!" for _ in range(config.times)]


@op(out={"shortest": Out(str), "longest": Out(str)})
def pick(greetings: list[str]):
    ordered = sorted(greetings, key=len)
    return ordered[0], ordered[-1]


@op
def shout(text: str) -> str:
    return text.upper()


@op(ins={"after": In(Nothing)})
def done() -> str:
    return "done"


@job
def hello():
    shortest, longest = pick(greet())
    done(after=[shout.alias("shout_short")(shortest), shout.alias("shout_long")(longest)])


if __name__ == "__main__":
    result = hello.execute_in_process(
        run_config=RunConfig(ops={"greet": GreetConfig(name="oprun", times=2)})
    )
    print("success:", result.success)
    print("shout_long:", result.output_for_node("shout_long"))
