/* Subcommands: each parses its own options and returns the exit status. */
#pragma once

int cmd_mount(int argc, char **argv, int helper_mode);
int cmd_attach(int argc, char **argv);
int cmd_exec(int argc, char **argv);
