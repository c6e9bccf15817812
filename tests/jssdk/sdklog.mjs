// The SDK's logging, quiet unless MXAUTH_JSSDK_LOG asks for more. Imported
// before the SDK itself: some of its modules keep a reference to their log
// function from the moment they load.

import { logger as sdkRootLogger } from "matrix-js-sdk/lib/logger.js";

/** The SDK's log levels, lowest first. */
export const logLevels = ["trace", "debug", "info", "warn", "error"];

/**
 * The level from MXAUTH_JSSDK_LOG: one of logLevels or "silent" (the
 * default); undefined when the variable holds anything else.
 */
export const sdkLogLevel = ((level) => (level === "silent" || logLevels.includes(level) ? level : undefined))(
    process.env.MXAUTH_JSSDK_LOG ?? "silent");

/** How many of logLevels, from the lowest, are not printed at level. */
function muted(level) {
    return level === "silent" || level === undefined ? logLevels.length : logLevels.indexOf(level);
}

// The root logger serves the parts of the SDK given no logger (the token
// refresher, MatrixRTC, timelines); its children copy its method factory.
const make = sdkRootLogger.methodFactory;
sdkRootLogger.methodFactory = (name, ...rest) =>
    (logLevels.indexOf(name) < muted(sdkLogLevel) ? () => {} : make(name, ...rest));
sdkRootLogger.rebuild();

/** A logger for the SDK's clients that prints from level up, to stderr. */
export function levelLogger(level, prefix = "") {
    const logger = { getChild: (child) => levelLogger(level, prefix + child) };
    logLevels.forEach((name, i) => {
        logger[name] = i < muted(level) ? () => {} : (...args) => console.error(`sdk ${name} ${prefix}`, ...args);
    });
    return logger;
}
