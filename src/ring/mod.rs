//! Disruptor-style ring queues: the only channel between threads in ringmq.
