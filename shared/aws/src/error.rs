//! Mapping of AWS SDK errors onto [`PortError`].
//!
//! One rule for all four services: the caller handles the few service errors
//! that carry meaning for it (no such key, condition failed, ...) and hands
//! everything else to [`sdk_error`], which sorts it into
//! `Transient` (throttling, 5xx, timeouts, connection failures: safe to retry),
//! `ConditionFailed`, `Invalid` (validation / bad argument), `NotFound`
//! (missing table, queue, bucket) or `Other`. Messages always carry the
//! service's error code and text via `DisplayErrorContext`, because the plain
//! `Display` of an SDK error only says "service error".

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use rentops_ports::PortError;

/// Error codes that mean "try again later".
const RETRYABLE_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "AWS.SimpleQueueService.RequestThrottled",
    "SlowDown",
    "InternalServerError",
    "InternalError",
    "InternalFailure",
    "InternalServiceError",
    "ServiceUnavailable",
    "TransactionConflictException",
    "TransactionInProgressException",
    "RequestTimeout",
    "RequestTimeoutException",
    "ConditionalRequestConflict",
    "KmsThrottled",
    "KMSThrottlingException",
];

/// Error codes that mean the request itself is wrong.
const INVALID_CODES: &[&str] = &[
    "ValidationException",
    "InvalidParameterValue",
    "InvalidParameterValueException",
    "InvalidParameterException",
    "InvalidParameterCombination",
    "InvalidRequestException",
    "InvalidRequest",
    "InvalidArgument",
    "InvalidAttributeValue",
    "InvalidAttributeName",
    "InvalidMessageContents",
    "ReceiptHandleIsInvalid",
    "InvalidIdFormat",
    "MessageNotInflight",
    "AWS.SimpleQueueService.MessageNotInflight",
    "KeyTooLongError",
    "EntityTooLarge",
];

/// Error codes that mean a configured resource does not exist.
const NOT_FOUND_CODES: &[&str] =
    &["ResourceNotFoundException", "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist", "NoSuchBucket"];

/// Map an SDK error to a [`PortError`]; `what` says which operation on which
/// resource failed (for example `"DynamoDB PutItem C#acme#LEASE#1/META in table rentops"`).
pub(crate) fn sdk_error<E>(what: &str, err: SdkError<E, HttpResponse>) -> PortError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let msg = format!("{what}: {}", DisplayErrorContext(&err));
    match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            PortError::Transient(msg)
        }
        SdkError::ConstructionFailure(_) => PortError::Invalid(msg),
        _ => {
            let status = err.raw_response().map(|r| r.status().as_u16());
            classify(err.code(), status, msg)
        }
    }
}

/// Sort a service error by its code, then by HTTP status.
pub(crate) fn classify(code: Option<&str>, status: Option<u16>, msg: String) -> PortError {
    match code {
        Some("ConditionalCheckFailedException") | Some("PreconditionFailed") => PortError::ConditionFailed(msg),
        Some(c) if RETRYABLE_CODES.contains(&c) => PortError::Transient(msg),
        Some(c) if INVALID_CODES.contains(&c) => PortError::Invalid(msg),
        Some(c) if NOT_FOUND_CODES.contains(&c) => PortError::NotFound(msg),
        _ => match status {
            Some(429) => PortError::Transient(msg),
            Some(s) if s >= 500 => PortError::Transient(msg),
            Some(412) => PortError::ConditionFailed(msg),
            _ => PortError::Other(msg),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_statuses_are_sorted() {
        let m = || "x".to_string();
        assert!(matches!(
            classify(Some("ConditionalCheckFailedException"), Some(400), m()),
            PortError::ConditionFailed(_)
        ));
        assert!(matches!(classify(Some("PreconditionFailed"), Some(412), m()), PortError::ConditionFailed(_)));
        assert!(matches!(
            classify(Some("ProvisionedThroughputExceededException"), Some(400), m()),
            PortError::Transient(_)
        ));
        assert!(matches!(classify(Some("ThrottlingException"), Some(400), m()), PortError::Transient(_)));
        assert!(matches!(classify(Some("ValidationException"), Some(400), m()), PortError::Invalid(_)));
        assert!(matches!(classify(Some("ResourceNotFoundException"), Some(400), m()), PortError::NotFound(_)));
        assert!(matches!(classify(Some("SomethingNew"), Some(503), m()), PortError::Transient(_)));
        assert!(matches!(classify(None, Some(500), m()), PortError::Transient(_)));
        assert!(matches!(classify(None, Some(429), m()), PortError::Transient(_)));
        assert!(matches!(classify(Some("AccessDeniedException"), Some(400), m()), PortError::Other(_)));
    }
}
