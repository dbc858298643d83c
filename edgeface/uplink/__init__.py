"""The way back from the edge: events over MQTT (``mqtt``) and face captures to the core's S3
bucket through a durable outbox (``outbox``). Both keep working, and keep what they owe, while
the broker or S3 is down. See docs/uplink.md."""
