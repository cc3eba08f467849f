/** Request bodies are small JSON documents; a larger one is refused before it is read in full. */
export const MAX_BODY_BYTES = 64 * 1024;

/** The limit as the 413 answer and the API description state it. */
export const MAX_BODY_TEXT = `${MAX_BODY_BYTES / 1024} KiB`;
