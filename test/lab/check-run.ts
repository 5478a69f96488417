/**
 * The PASS/FAIL lines of the runners an operator reads (`make lab`, `make
 * test-package`): one line per check, with what it found and how long it
 * took, and the count of failures that decides the exit status.
 */
export class CheckRun {
  /** How many checks (or whole runs) failed so far. */
  failures = 0;

  /**
   * Runs one check and prints its line: PASS with the detail `body` returns,
   * or FAIL with the message of what it threw. Never throws; true when it passed.
   */
  async check(name: string, body: () => Promise<string | void>): Promise<boolean> {
    const started = Date.now();
    try {
      const detail = await body();
      console.log(`PASS  ${name}${detail ? `: ${detail}` : ''} (${Date.now() - started} ms)`);
      return true;
    } catch (error) {
      this.fail(name, error);
      return false;
    }
  }

  /** Counts a failure outside any check (the run itself broke) and prints its FAIL line. */
  fail(name: string, error: unknown): void {
    this.failures++;
    console.log(`FAIL  ${name}: ${error instanceof Error ? error.message : String(error)}`);
  }
}
