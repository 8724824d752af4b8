import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { expect } from "chai";
import { connectBroker } from "../actors/runtime/connect.js";
import { TestSystem } from "../harness/system.js";
import { pidAlive, waitFor } from "../harness/wait.js";

/** What `cleanup()` threw, if anything. */
async function cleanupError(sys: TestSystem): Promise<Error | undefined> {
  return sys.cleanup().then(
    () => undefined,
    (err: unknown) => err as Error,
  );
}

describe("the test harness", function () {
  this.timeout(30_000);

  it("fails cleanup when its broker exited on its own, with what the broker said", async () => {
    const sys = new TestSystem();
    const broker = await sys.startBroker();
    const exited = new Promise((resolve) => broker.process.once("exit", resolve));
    // Not a signal nats-server handles: Go's runtime dumps its goroutines and exits, as on a panic.
    process.kill(broker.process.pid!, "SIGQUIT");
    await exited;
    const err = await cleanupError(sys);
    expect(err?.message).to.match(/nats-server on port \d+ exited on its own \(code 2\)/);
    expect(err?.message).to.match(/it said: SIGQUIT: quit/);
  });

  it("fails cleanup when a client of its broker is still connected", async () => {
    const sys = new TestSystem();
    await sys.startBroker();
    await sys.connect("actor"); // the harness's own: closed by cleanup
    const forgotten = await connectBroker(sys.config(), "listener", "forgotten-client");
    try {
      const err = await cleanupError(sys);
      expect(err?.message).to.match(
        /still connected to the broker after cleanup: forgotten-client/,
      );
      expect(err?.message).not.to.match(/test-actor/);
    } finally {
      await forgotten.close();
    }
  });

  it("kills a tracked PID at cleanup only while it is still that process", async () => {
    const sys = new TestSystem();
    // Another process's thread: kill(2) with a thread's id kills its whole process.
    const other = spawn("nats-server", ["-a", "127.0.0.1", "-p", "-1", "-m", "0"], {
      stdio: "ignore",
    });
    try {
      const pid = other.pid!;
      const threads = await waitFor(() => {
        const ids = readdirSync(`/proc/${pid}/task`).map(Number);
        return ids.length > 1 && ids.filter((id) => id !== pid);
      }, "the other process's threads");
      for (const id of threads) sys.track(id);
      await sys.cleanup();
      expect(pidAlive(pid), "the other process").to.equal(true);
    } finally {
      other.kill("SIGKILL");
    }
  });
});
