/**
 * Work that goes on after the call that started it returned (a store write after a response, an index
 * job, a background refresh): tracked so that `close()` can wait for it, and never an unhandled
 * rejection (a task's failure is the caller's to report before it is tracked).
 */
export class BackgroundTasks {
  readonly #tasks = new Set<Promise<unknown>>()

  get size(): number {
    return this.#tasks.size
  }

  track(task: Promise<unknown>): void {
    this.#tasks.add(task)
    const forget = () => this.#tasks.delete(task)
    task.then(forget, forget)
  }

  /** Resolves once no task is running (tasks started meanwhile included). */
  async drain(): Promise<void> {
    while (this.#tasks.size > 0) await Promise.allSettled([...this.#tasks])
  }

  /**
   * `drain()` bounded by `ms`: resolves `true` when everything finished, `false` when tasks were still
   * running at the deadline (they are then left to finish or fail on their own).
   */
  async drainWithin(ms: number): Promise<boolean> {
    if (this.#tasks.size === 0) return true
    let timer: NodeJS.Timeout | undefined
    const expired = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), ms)
    })
    try {
      return await Promise.race([this.drain().then(() => true as const), expired])
    } finally {
      clearTimeout(timer)
    }
  }
}
