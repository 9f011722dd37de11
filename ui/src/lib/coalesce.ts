/** Runs `task` one at a time. A call while it runs asks for one more run after it, however
 * many calls come meanwhile: change events come in bursts (a thousand for a big sync), and
 * a reload per event would pile up requests whose answers overtake each other, while this
 * costs two runs for the burst and always ends with a run that began after the last call.
 * The promise settles when a run that began after the call has finished. */
export function coalesce(task: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | null = null;
  let again: Promise<void> | null = null;
  const run = (): Promise<void> => {
    if (!running) {
      running = (async () => {
        try {
          await task();
        } finally {
          running = null;
        }
      })();
      return running;
    }
    if (!again) {
      const after = () => {
        again = null;
        return run();
      };
      again = running.then(after, after);
    }
    return again;
  };
  return run;
}
