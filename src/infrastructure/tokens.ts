/** Dependency-injection tokens, one per port or service the composition root registers. */
export const TOKENS = {
  Clock: Symbol("Clock"),
  Logger: Symbol("Logger"),
  SecretStore: Symbol("SecretStore"),
  JobLock: Symbol("JobLock"),
  CertificationExpiryStore: Symbol("CertificationExpiryStore"),
  CertificationChangeFeed: Symbol("CertificationChangeFeed"),
  CertificationPortal: Symbol("CertificationPortal"),
  SyncQuarantine: Symbol("SyncQuarantine"),
  RetentionStore: Symbol("RetentionStore"),
  JobRegistry: Symbol("JobRegistry"),
  WorkerLifecycle: Symbol("WorkerLifecycle"),
  AuthorizeCaller: Symbol("AuthorizeCaller"),
  RunJob: Symbol("RunJob"),
} as const;
