//! Texts the model benches share (each bench file includes this module).

/// A ten-word review with a contrast ("but") and an exclamation mark.
pub const SHORT: &str = "The soup was great, but the service was painfully slow!";

/// The twenty-word review the load benchmark posts.
pub const REVIEW: &str =
    "I absolutely loved this little cafe: the coffee was rich, the staff were friendly, \
and the prices felt very fair.";

/// A hundred-word review mixing boosters, negation, caps, a "but" and an emoticon.
pub const MEDIUM: &str = "We booked this hotel for a long weekend and mostly enjoyed it. \
The room was spacious, spotless and quiet, and the bed was extremely comfortable. \
Breakfast was not bad at all: fresh bread, decent coffee, plenty of fruit. \
The staff at the front desk were friendly and helpful, but the bar closed far too early \
and the pool was freezing. Parking cost a fortune, which nobody mentioned when we booked. \
Still, the location is PERFECT for walking to the old town and the river. \
Would we come back? Probably yes, if the price drops a little :) A good stay.";
