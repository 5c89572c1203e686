-- statfs: returns {0, capacity bytes, capacity inodes, used bytes, inodes}.
return {0, S(setting('capacity_bytes')), S(setting('capacity_inodes')),
  redis.call('GET', P .. 'usedspace') or '0', redis.call('GET', P .. 'totalinodes') or '0'}
