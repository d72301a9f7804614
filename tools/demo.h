/*
 * demo.h - `sluice demo`: the mock cluster, generated traffic, example
 * pipelines and their output, live.
 */
#ifndef SL_TOOLS_DEMO_H
#define SL_TOOLS_DEMO_H

int sluice_demo(int argc, char **argv, volatile int *stop);

#endif
