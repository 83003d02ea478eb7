"""Vocabulary for the synthetic training dialogues (``families/``): names, things, places and small phrase parts."""

from __future__ import annotations

NAMES = [
    "Maya",
    "Leo",
    "Ana",
    "Omar",
    "Priya",
    "Jonas",
    "Chloe",
    "Mateo",
    "Aisha",
    "Lukas",
    "Nora",
    "Felix",
    "Sofia",
    "Ravi",
    "Emma",
    "Hugo",
    "Zara",
    "Theo",
    "Lena",
    "Kai",
    "Grace",
    "Ivan",
    "Mira",
    "Noah",
    "Elena",
    "Samir",
    "Julia",
    "Tomas",
    "Ines",
    "Daniel",
    "Yara",
    "Oscar",
    "Clara",
    "Malik",
    "Freya",
    "Diego",
    "Hana",
    "Victor",
    "Alice",
    "Bruno",
    "Carmen",
    "David",
    "Eva",
    "Farid",
    "Gina",
    "Henry",
    "Irene",
    "Jack",
    "Kira",
    "Liam",
    "Mona",
    "Nils",
    "Olga",
    "Pablo",
    "Rosa",
    "Sven",
    "Tara",
]
RELATIVES = ("sister", "brother", "cousin", "best friend", "neighbour", "coworker", "aunt", "roommate", "uncle")
FEMININE_RELATIVES = ("sister", "aunt")
MASCULINE_RELATIVES = ("brother", "uncle")
PETS = ("dog", "cat", "rabbit", "parrot", "hamster", "tortoise", "ferret", "lizard")
PET_NAMES = [
    "Pepper",
    "Biscuit",
    "Luna",
    "Max",
    "Olive",
    "Mochi",
    "Rocky",
    "Daisy",
    "Ziggy",
    "Nala",
    "Pumpkin",
    "Shadow",
    "Coco",
    "Finn",
    "Ruby",
]
CITIES = [
    "Lisbon",
    "Denver",
    "Osaka",
    "Nairobi",
    "Glasgow",
    "Porto",
    "Austin",
    "Krakow",
    "Seattle",
    "Lyon",
    "Dublin",
    "Boston",
    "Sydney",
    "Toronto",
    "Bergen",
    "Valencia",
    "Hamburg",
    "Quito",
    "Tucson",
    "Hanoi",
]
JOBS = (
    "nurse",
    "teacher",
    "software engineer",
    "baker",
    "architect",
    "accountant",
    "chef",
    "pharmacist",
    "graphic designer",
    "firefighter",
    "librarian",
    "electrician",
    "journalist",
    "vet",
    "photographer",
)
COMPANIES = [
    "Crumb & Co",
    "Northwind",
    "Bluepeak Labs",
    "the city hospital",
    "Greenleaf School",
    "Atlas Logistics",
    "Riverside Cafe",
]
HOBBIES = (
    "pottery",
    "rock climbing",
    "painting",
    "chess",
    "salsa dancing",
    "birdwatching",
    "knitting",
    "surfing",
    "gardening",
    "archery",
    "baking bread",
    "photography",
    "woodworking",
    "kayaking",
    "yoga",
)
INSTRUMENTS = ("piano", "violin", "guitar", "cello", "drums", "ukulele", "saxophone", "flute")
FOODS = ("sushi", "lasagna", "tacos", "ramen", "paella", "dumplings", "curry", "falafel", "pho", "risotto")
PLACES = ("the river cafe", "Luigi's", "the night market", "the botanical garden", "the old harbour", "the art museum")
RESTAURANTS = (
    "the Golden Wok",
    "Casa Verde",
    "the Blue Door",
    "Sakura House",
    "Burger Barn",
    "El Faro",
    "Trattoria Nonna",
)
EVENTS = (
    "ran a half marathon",
    "went to a jazz concert",
    "visited a pottery workshop",
    "attended a wedding",
    "went camping by the lake",
    "volunteered at an animal shelter",
    "joined a book club",
    "went to a career fair",
    "took a cooking class",
    "went to a music festival",
    "gave a talk at a conference",
    "hiked up a volcano",
)
MILESTONES = (
    "passed the driving test",
    "painted the kitchen yellow",
    "learned to swim properly",
    "built a bookshelf from scratch",
    "started a podcast",
    "planted a vegetable patch",
    "sang at an open mic night",
    "finished a first aid course",
    "flew in a glider",
    "sold the old sofa",
    "tiled the bathroom",
    "joined a rowing club",
)
GATHERINGS = (
    "the jazz festival",
    "a friend's wedding",
    "the book fair",
    "the street food festival",
    "the alumni reunion",
    "the office party",
    "the charity gala",
)
CARS = ("a hybrid hatchback", "an old pickup truck", "an electric scooter", "a red convertible", "a minivan", "a bike")
PHONES = ("Pixel", "iPhone", "Galaxy Fold", "Fairphone", "Nokia flip phone", "OnePlus", "Xperia")
TEAMS = ("Rovers", "Falcons", "Red Foxes", "Mariners", "Comets", "Wolves", "Pirates", "Thunder")
HAIR_COLOURS = (
    "bright pink",
    "platinum blonde",
    "jet black",
    "copper red",
    "pastel blue",
    "silver grey",
    "forest green",
)
DIETS = ("vegan", "vegetarian", "keto", "pescatarian", "gluten-free", "paleo", "low-carb")
RELATIONSHIP_STATUSES = (
    "single",
    "engaged",
    "married",
    "dating someone new",
    "separated",
    "in a long-distance relationship",
)
STREETS = ("Maple Street", "Harbour Road", "Elm Avenue", "Station Lane", "Cedar Close", "Mill Road", "Orchard Way")
BOOKS = ("a mystery novel", "a book about octopuses", "a biography of Marie Curie", "a fantasy trilogy", "a cookbook")
READING_TIMES = ("two nights", "a single weekend", "one long train ride", "three evenings", "a rainy afternoon")
WHEN = ("last weekend", "yesterday", "on Saturday", "last month", "two weeks ago", "on Friday night", "last summer")
TIME_ANCHORS = (  # pairwise distinct moments, so two of them never name the same time
    "last weekend",
    "last month",
    "last summer",
    "over the holidays",
    "two years ago",
    "this morning",
    "on my birthday",
)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
DATES = ("March 3rd", "April 12th", "May 20th", "June 8th", "July 17th", "September 9th", "October 25th")
OCCASIONS = ("housewarming party", "graduation party", "baby shower", "team barbecue", "farewell drinks", "book launch")
SHOPS = ("Fern & Finch", "the Copper Kettle", "Oak & Ember", "Little Lantern", "the Thrift Barn", "Moss Market")
SHOP_ITEMS = (
    "a leather notebook",
    "a ceramic teapot",
    "a vintage lamp",
    "a wool scarf",
    "a pair of hiking boots",
    "a record player",
    "a linen shirt",
)
GIFTS = (
    "telescope",
    "silk scarf",
    "watercolour set",
    "smartwatch",
    "pasta maker",
    "leather wallet",
    "espresso machine",
)
BODY_PARTS = ("ankle", "wrist", "knee", "shoulder", "elbow")
INJURY_CAUSES = (
    "skiing",
    "playing football",
    "falling off my bike",
    "moving furniture",
    "on a hike",
    "at the climbing gym",
)
INJURY_STATES = ("really swollen", "in a cast", "in a brace", "too sore to move")
RECOVERY_STATES = ("fully healed", "almost back to normal", "good as new", "out of the cast", "strong enough to run on")
FEELINGS = ("nervous", "proud", "exhausted", "overwhelmed", "relieved", "thrilled", "homesick", "inspired")
HABITS = ("eat meat", "drink coffee", "drink alcohol", "smoke", "drive to work", "play video games", "eat sugar")
PLANS = (
    "learn to sail",
    "walk the Camino",
    "open a small bakery",
    "learn Japanese",
    "build a treehouse",
    "cycle across Portugal",
    "adopt a rescue dog",
)
PLAN_PERIODS = ("this summer", "next year", "over the winter break", "after graduation")
QUIT_THINGS = ("the choir", "the five-a-side team", "the book club", "the night shift", "the band", "the startup")
QUIT_REASONS = (
    "it took up every weekend",
    "the schedule clashed with my classes",
    "it stopped being fun",
    "the drive there was an hour each way",
    "I needed more time for my family",
    "the new organiser was impossible",
)
FRIENDS = ("best friend", "oldest friend", "college roommate", "childhood friend")
SIBLINGS = ("brother", "sister", "cousin")
TASTES = {  # a kind of thing someone can like or dislike, and examples of it
    "music": ("jazz", "heavy metal", "country", "opera", "techno", "k-pop", "folk"),
    "kind of film": ("horror films", "romcoms", "westerns", "documentaries", "superhero movies", "anime"),
    "sport on TV": ("tennis", "golf", "basketball", "cricket", "motor racing", "figure skating"),
}
CHOICES = (  # something to decide on (as said, as asked about) and what the options are
    ("my next holiday", "the next holiday", CITIES),
    ("an evening class", "the evening class", HOBBIES),
    ("the work potluck", "the potluck dish", FOODS),
)
PROBLEMS = (  # a complaint, what a question calls it, pieces of advice that fit it
    (
        "I just can't fall asleep these days.",
        "trouble sleeping",
        ("cut out coffee after lunch", "read a paper book in bed", "keep the phone out of the bedroom"),
    ),
    (
        "I get so nervous before presentations.",
        "presentation nerves",
        ("practise in front of a mirror", "try box breathing", "record yourself rehearsing"),
    ),
    (
        "I'm terrible at saving money.",
        "saving money",
        ("set up an automatic transfer on payday", "keep a spending diary", "use cash for groceries"),
    ),
    (
        "I keep putting off my thesis.",
        "procrastination",
        ("work in 25-minute blocks", "start with the easiest section", "tell a friend your deadline"),
    ),
)
TITLES = {  # things to recommend, by kind
    "show": ("Northern Tides", "The Quiet Orchard", "Kitchen Rivals", "Station Eleven", "Slow Horses"),
    "book": ("The Salt Road", "A Year of Small Things", "Piranesi", "The Glass Hotel", "Circe"),
    "podcast": ("Tiny Histories", "The Long Game", "Deep Field", "Odd Jobs", "Kitchen Table Science"),
}
GENERIC_FILLER = (
    "Haha, that's so true.",
    "How has your week been?",
    "I've been so busy lately.",
    "That sounds fun!",
    "Oh nice, tell me more.",
    "I know what you mean.",
    "The weather has been crazy here.",
    "Same here, honestly.",
    "I need a vacation soon.",
    "Did you watch the game last night?",
    "I'm trying to sleep more these days.",
    "That's wonderful to hear!",
    "Work has been a lot this month.",
    "I totally agree with you.",
)
