/**
 * `then` in a timer after `frames` animation frames: work that should come after what was just
 * drawn reached the screen, not share the CPU with its raster (2 cores). Returns a cancel.
 */
export function afterFrames(frames: number, then: () => void): () => void {
  let frame = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const next = (left: number) => {
    frame = requestAnimationFrame(() => (left > 1 ? next(left - 1) : (timer = setTimeout(then))));
  };
  next(frames);
  return () => {
    cancelAnimationFrame(frame);
    clearTimeout(timer);
  };
}
