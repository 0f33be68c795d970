/* The tessera command line (see cli.c). Main thread only. */
#ifndef TESSERA_CLI_H
#define TESSERA_CLI_H

/* Runs the command in argv and returns the process exit status. */
int cli_main(int argc, char **argv);

#endif
