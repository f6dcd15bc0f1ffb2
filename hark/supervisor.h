/* supervisor.h - `hark run`: the five stages as one supervised pipeline.
 *
 * Starts hark-logger, hark-correlate, hark-dispatch, the reassembler
 * shards and hark-capture as child processes (each in its own process
 * group, so a terminal's Ctrl-C reaches only the supervisor), restarts a
 * stage that dies (with backoff, at most supervisor.max_restarts a
 * minute), and drains in pipeline order on SIGINT/SIGTERM: capture is
 * told to stop, sends eof, and every stage flushes and passes the eof on
 * before it exits. Prints a summary from the stages' final stats.
 * --only ROLE[,ROLE] runs part of the pipeline, the rest on other
 * machines (roles.h); SIGHUP reloads routes and policies (reload.h);
 * supervisor.metrics serves /metrics (metrics_http.h).
 *
 * Exit status: 0 when every stage ended cleanly; 1 when a stage failed
 * or had to be killed; 2 for a bad command line, config or input.
 */
#ifndef HARK_SUPERVISOR_H
#define HARK_SUPERVISOR_H

int hark_run_main(int argc, char **argv);
int hark_stats_main(int argc, char **argv);
int hark_tap_main(int argc, char **argv);

#endif
