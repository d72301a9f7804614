/*
 * kafka_run.h - internal pieces of Kafka mode shared with tools: the
 * settings sluice keeps for itself (everything else goes to librdkafka).
 */
#ifndef SL_KAFKA_RUN_H
#define SL_KAFKA_RUN_H

#include <stdbool.h>

/* True for a property sluice interprets (application.id,
 * processing.guarantee, commit.interval.ms, state.*, sluice.*). */
bool sl_kafka_own_setting(const char *name);

#endif
